/**
 * The .ova: an OVF package as one ustar file (DSP0243 section 5.3), with the
 * .ovf first, then the .mf, then the disks, which is the order importers read.
 */
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { removeOnFailure } from './remove-on-failure.js';
import { ustarStream } from './ustar-stream.js';

/** Writes `ovaPath` holding `files` (the .ovf, the .mf, the disks, in that order) under their own names. */
export async function writeOva(ovaPath: string, files: readonly string[], mtime: number): Promise<string> {
  if (path.extname(files[0] ?? '') !== '.ovf') throw new Error(`an OVA must start with its .ovf, got ${files[0]}`);
  const members = files.map((file) => ({ name: path.basename(file), path: file }));
  return removeOnFailure(ovaPath, () => pipeline(Readable.from(ustarStream(members, mtime)), createWriteStream(ovaPath)));
}
