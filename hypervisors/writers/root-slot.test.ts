/** The root slot writer: gzip reads back exactly the partition's bytes, zeros and all, and nothing around it. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { createRootSlotWriter } from './root-slot.js';
import { exists, feedRawDisk, makeDisk, useTempDir } from './test-support.js';

const MiB = 1024 * 1024;
const dir = useTempDir('lbbuild-root-slot-');
const partition = { offset: 4 * MiB, size: 6 * MiB };

test('the partition, holes included, is what gunzip reads back', async () => {
  const raw = dir('disk.raw');
  const inside = [randomBytes(MiB), randomBytes(1000)];
  await makeDisk(raw, 16 * MiB, [
    [1 * MiB, randomBytes(MiB)], // before the partition
    [4 * MiB, inside[0]!], // its first MiB
    [8 * MiB + 5, inside[1]!], // after a hole of three MiB
    [12 * MiB, randomBytes(MiB)], // after it
  ]);
  const out = dir('root.img.gz');
  await feedRawDisk(createRootSlotWriter({ path: out, diskSize: 16 * MiB, partition }), raw, { reuseBuffer: true });
  const expected = (await readFile(raw)).subarray(partition.offset, partition.offset + partition.size);
  assert.ok(gunzipSync(await readFile(out)).equals(expected));
});

test('a partition that does not lie in whole MiB inside the disk is refused; abort leaves no file', async () => {
  assert.throws(() => createRootSlotWriter({ path: dir('bad.gz'), diskSize: 8 * MiB, partition: { offset: 4 * MiB, size: 5 * MiB } }), /not whole MiB inside/);
  assert.throws(() => createRootSlotWriter({ path: dir('bad.gz'), diskSize: 8 * MiB, partition: { offset: 1000, size: MiB } }), /not whole MiB/);
  const writer = createRootSlotWriter({ path: dir('aborted.gz'), diskSize: 16 * MiB, partition });
  await writer.write({ offset: 0, length: 16 * MiB, data: null });
  await writer.abort();
  assert.equal(await exists(dir('aborted.gz')), false);
});

test('finishing before the whole partition arrived is an error', async () => {
  const writer = createRootSlotWriter({ path: dir('short.gz'), diskSize: 16 * MiB, partition });
  await writer.write({ offset: 0, length: 5 * MiB, data: null });
  await assert.rejects(writer.finish(), /got 1048576 of the partition's 6291456 bytes/);
  await writer.abort();
});
