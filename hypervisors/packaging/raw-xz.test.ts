/** The factory image: xz as an independent reader gives back the raw disk, holes included; the same disk gives the same bytes. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import { writeRawXz } from './raw-xz.js';

let work: string;
let raw: string;

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'lbbuild-raw-xz-'));
  raw = path.join(work, 'disk.raw');
  // 64 MiB, sparse, with data at both ends.
  const file = await open(raw, 'w');
  await file.truncate(64 * 1024 * 1024);
  await file.write(Buffer.from('boot sector'), 0, 11, 0);
  await file.write(Buffer.alloc(4096, 0xa5), 0, 4096, 64 * 1024 * 1024 - 4096);
  await file.close();
});
after(() => rm(work, { recursive: true, force: true }));

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

test('xz -d gives back the raw disk; a second build is bit-identical; nothing is left beside it', async () => {
  const first = await writeRawXz(path.join(work, 'X-v1.img.xz'), raw);
  const unpacked = await execa('xz', ['-dc', first], { encoding: 'buffer' });
  assert.equal(sha256(unpacked.stdout), sha256(await readFile(raw)));
  await execa('xz', ['-t', '-v', first]);
  const second = await writeRawXz(path.join(work, 'X-v2.img.xz'), raw);
  assert.equal(sha256(await readFile(first)), sha256(await readFile(second)));
  assert.deepEqual((await readdir(work)).sort(), ['X-v1.img.xz', 'X-v2.img.xz', 'disk.raw']);
});

test('a name without .xz and a missing disk are refused, leaving nothing', async () => {
  await assert.rejects(writeRawXz(path.join(work, 'X.img'), raw), /ends in \.xz/);
  await assert.rejects(writeRawXz(path.join(work, 'Y.img.xz'), path.join(work, 'missing.raw')), /xz exited/);
  assert.deepEqual((await readdir(work)).filter((f) => f.startsWith('X.img') || f.startsWith('Y.img')), []);
});
