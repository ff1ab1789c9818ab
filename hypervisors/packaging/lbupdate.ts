/**
 * The signed update bundle (.lbupdate, laid out in builder/update/manifest.ts): the
 * manifest is made from the compressed slot image as written, signed, and archived in
 * front of the image, so lb-update reads what it checks before what it writes.
 */
import { createHash, sign } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { BUNDLE_FORMAT, BUNDLE_MEMBERS, encodeManifest, type BundleManifest } from '../../builder/update/manifest.js';
import type { UpdateKey } from '../../builder/update/signing-key.js';
import { removeOnFailure } from './remove-on-failure.js';
import { ustarStream } from './ustar-stream.js';

export interface BundleJob {
  /** The gzip-compressed root slot image. */
  image: string;
  product: string;
  version: string;
  model: string;
  key: UpdateKey;
  epoch: number;
}

/** Writes `bundlePath`; the manifest and its signature are written beside it first, then archived with the image. */
export async function writeUpdateBundle(bundlePath: string, job: BundleJob): Promise<string> {
  const dir = path.dirname(bundlePath);
  // One read of the image hashes it as stored and, through gunzip, as the slot will hold it.
  const image = createHash('sha256');
  const slot = await digest(createReadStream(job.image).on('data', (piece) => image.update(piece)).pipe(createGunzip()));
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    product: job.product,
    version: job.version,
    model: job.model,
    image_sha256: image.digest('hex'),
    slot_bytes: slot.bytes,
    slot_sha256: slot.sha256,
  };
  const manifestBytes = encodeManifest(manifest);
  const files = {
    manifest: path.join(dir, BUNDLE_MEMBERS.manifest),
    signature: path.join(dir, BUNDLE_MEMBERS.signature),
  };
  await writeFile(files.manifest, manifestBytes);
  await writeFile(files.signature, sign(null, manifestBytes, job.key.privateKey));
  const members = [
    { name: BUNDLE_MEMBERS.manifest, path: files.manifest },
    { name: BUNDLE_MEMBERS.signature, path: files.signature },
    { name: BUNDLE_MEMBERS.image, path: job.image },
  ];
  return removeOnFailure(bundlePath, () => pipeline(Readable.from(ustarStream(members, job.epoch)), createWriteStream(bundlePath)));
}

async function digest(stream: NodeJS.ReadableStream): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  await pipeline(
    stream,
    new Writable({
      write(piece: Buffer, _encoding, done) {
        hash.update(piece);
        bytes += piece.length;
        done();
      },
    }),
  );
  return { sha256: hash.digest('hex'), bytes };
}
