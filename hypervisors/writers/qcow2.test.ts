import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { writeDiskImages } from './fanout.js';
import { createQcow2Writer, l1SizeFor, layoutTables } from './qcow2.js';
import { isAllZero } from '../../builder/disk/all-zero.js';
import type { Extent } from '../../builder/disk/sparse-copy.js';
import { readRawDisk } from './raw-source.js';
import { exists, makeDisk, makeSampleDisk, run, useTempDir } from './test-support.js';
import { CHUNK_SIZE } from './types.js';

const MiB = CHUNK_SIZE;
const CLUSTER = 64 * 1024;

const dir = useTempDir('lbbuild-qcow2-');

async function convert(raw: string, qcow2: string, extents?: Extent[]): Promise<void> {
  const { size } = await stat(raw);
  await writeDiskImages(readRawDisk(raw, extents), [createQcow2Writer({ path: qcow2, diskSize: size })]);
}

/** qemu-img check must find no errors, leaks or corruptions; compare must find the raw disk's bytes. */
async function assertValidCopy(raw: string, qcow2: string): Promise<void> {
  const check = JSON.parse(await run('qemu-img', ['check', '-f', 'qcow2', '--output=json', qcow2]));
  assert.equal(check['check-errors'], 0);
  assert.equal(check.leaks ?? 0, 0);
  assert.equal(check.corruptions ?? 0, 0);
  const compare = await run('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', raw, qcow2]);
  assert.match(compare, /Images are identical/);
  await assertRefcounts(qcow2);

  const info = JSON.parse(await run('qemu-img', ['info', '-f', 'qcow2', '--output=json', qcow2]));
  assert.equal(info['virtual-size'], (await stat(raw)).size);
  assert.equal(info['cluster-size'], CLUSTER);
  assert.equal(info['format-specific'].data.compat, '1.1');
  assert.equal(info['format-specific'].data['refcount-bits'], 16);
}

/** Every cluster of the file has refcount 1, and no refcount entry counts a cluster past its end. */
async function assertRefcounts(qcow2: string): Promise<void> {
  const image = await readFile(qcow2);
  const fileClusters = image.length / CLUSTER;
  const tableOffset = Number(image.readBigUInt64BE(48));
  const tableEntries = (image.readUInt32BE(56) * CLUSTER) / 8;
  const perBlock = CLUSTER / 2;
  for (let t = 0; t < tableEntries; t++) {
    const blockOffset = Number(image.readBigUInt64BE(tableOffset + t * 8));
    if (blockOffset === 0) {
      assert.ok(t * perBlock >= fileClusters, `refcount block ${t} is missing`);
      continue;
    }
    for (let e = 0; e < perBlock; e++) {
      const cluster = t * perBlock + e;
      const refcount = image.readUInt16BE(blockOffset + e * 2);
      if (refcount !== (cluster < fileClusters ? 1 : 0)) assert.fail(`cluster ${cluster} has refcount ${refcount}`);
    }
  }
}

async function countNonZeroClusters(raw: string): Promise<number> {
  const bytes = await readFile(raw);
  let count = 0;
  for (let at = 0; at < bytes.length; at += CLUSTER) if (!isAllZero(bytes.subarray(at, at + CLUSTER))) count++;
  return count;
}

describe('qcow2 writer', () => {
  test('writes a valid, identical image holding only the non-zero clusters', async () => {
    const raw = dir('sample.raw');
    const qcow2 = dir('sample.qcow2');
    await makeSampleDisk(raw);
    await convert(raw, qcow2);
    await assertValidCopy(raw, qcow2);

    // header + data clusters + one L2 table + L1 table + refcount table + one refcount block
    const dataClusters = await countNonZeroClusters(raw);
    assert.equal(dataClusters, 16 + 2 + 5 + 2 + 1); // as sampleDiskWrites() in test-support.ts lists them
    assert.equal((await stat(qcow2)).size, (1 + dataClusters + 1 + 3) * CLUSTER);
  });

  test('header fields', async () => {
    const raw = dir('header.raw');
    const qcow2 = dir('header.qcow2');
    await makeSampleDisk(raw);
    await convert(raw, qcow2);
    const header = (await readFile(qcow2)).subarray(0, CLUSTER);

    assert.equal(header.toString('latin1', 0, 4), 'QFI\xfb');
    assert.equal(header.readUInt32BE(4), 3, 'version');
    assert.equal(header.readBigUInt64BE(8), 0n, 'backing_file_offset');
    assert.equal(header.readUInt32BE(20), 16, 'cluster_bits');
    assert.equal(header.readBigUInt64BE(24), BigInt(64 * MiB), 'size');
    assert.equal(header.readUInt32BE(32), 0, 'crypt_method');
    assert.equal(header.readUInt32BE(36), 1, 'l1_size');
    assert.equal(Number(header.readBigUInt64BE(40)) % CLUSTER, 0, 'l1_table_offset is cluster aligned');
    assert.equal(Number(header.readBigUInt64BE(48)) % CLUSTER, 0, 'refcount_table_offset is cluster aligned');
    assert.equal(header.readUInt32BE(56), 1, 'refcount_table_clusters');
    assert.equal(header.readUInt32BE(60), 0, 'nb_snapshots');
    assert.equal(header.readBigUInt64BE(64), 0n, 'snapshots_offset');
    assert.equal(header.readBigUInt64BE(72), 0n, 'incompatible_features');
    assert.equal(header.readBigUInt64BE(80), 0n, 'compatible_features');
    assert.equal(header.readBigUInt64BE(88), 0n, 'autoclear_features');
    assert.equal(header.readUInt32BE(96), 4, 'refcount_order');
    assert.equal(header.readUInt32BE(100), 104, 'header_length');
    assert.ok(isAllZero(header.subarray(104)), 'end of header extensions, then nothing');
  });

  test('a sparse disk spanning three L2 tables, read through its extents', async () => {
    const raw = dir('sparse.raw');
    const qcow2 = dir('sparse.qcow2');
    const size = 1100 * MiB;
    const extents = await makeDisk(raw, size, [
      [3 * MiB + 5, randomBytes(1000)],
      [1024 * MiB + 5 * MiB, randomBytes(CLUSTER + 1)],
      [size - MiB, randomBytes(MiB)],
    ]);
    await convert(raw, qcow2, extents);
    await assertValidCopy(raw, qcow2);

    const image = await readFile(qcow2);
    assert.equal(image.readUInt32BE(36), 3, 'l1_size');
    const l1 = image.subarray(Number(image.readBigUInt64BE(40)));
    assert.notEqual(l1.readBigUInt64BE(0), 0n);
    assert.equal(l1.readBigUInt64BE(8), 0n, 'no L2 table for the empty middle 512 MiB');
    assert.notEqual(l1.readBigUInt64BE(16), 0n);
    // 1 + 2 + 16 data clusters, 2 L2 tables
    assert.equal(image.length, (1 + 19 + 2 + 3) * CLUSTER);
  });

  test('an all-zero disk', async () => {
    const raw = dir('empty.raw');
    const qcow2 = dir('empty.qcow2');
    await makeDisk(raw, 16 * MiB, []);
    await convert(raw, qcow2);
    await assertValidCopy(raw, qcow2);
    assert.equal((await stat(qcow2)).size, 4 * CLUSTER, 'header, L1 table, refcount table and block');
  });

  test('is deterministic', async () => {
    const raw = dir('determinism.raw');
    await makeSampleDisk(raw);
    await convert(raw, dir('first.qcow2'));
    await convert(raw, dir('second.qcow2'));
    assert.ok((await readFile(dir('first.qcow2'))).equals(await readFile(dir('second.qcow2'))));
  });

  test('abort() removes the partial file', async () => {
    const path = dir('aborted.qcow2');
    const writer = createQcow2Writer({ path, diskSize: 4 * MiB });
    await writer.write({ offset: 0, length: MiB, data: randomBytes(MiB) });
    assert.equal(await exists(path), true);
    await writer.abort();
    assert.equal(await exists(path), false);
  });

  test('refuses bad options and chunks out of order', async () => {
    assert.throws(() => createQcow2Writer({ path: dir('x.qcow2'), diskSize: MiB + 512 }), /diskSize.*1049088/);
    assert.throws(() => createQcow2Writer({ path: dir('x.qcow2'), diskSize: 0 }), /diskSize.*got 0/);
    assert.throws(() => createQcow2Writer({ path: '', diskSize: MiB }), /path/);

    const writer = createQcow2Writer({ path: dir('order.qcow2'), diskSize: 4 * MiB });
    await assert.rejects(writer.write({ offset: MiB, length: MiB, data: null }), /expected the 1048576-byte chunk at 0/);
    await assert.rejects(writer.finish(), /finish\(\) after 0 of 4194304 bytes/);
    await writer.abort();
  });
});

describe('qcow2 layoutTables', () => {
  test('the L1 table covers 512 MiB per entry', () => {
    assert.equal(l1SizeFor(MiB), 1);
    assert.equal(l1SizeFor(512 * MiB), 1);
    assert.equal(l1SizeFor(512 * MiB + MiB), 2);
    assert.equal(l1SizeFor(64 * 1024 * MiB), 128);
  });

  test('refcount blocks count the refcount table and themselves', () => {
    // One block counts 32768 clusters: used + L1 + table + block.
    const fits = layoutTables(32765, 1);
    assert.deepEqual(fits, {
      l1_table_offset: 32765 * CLUSTER,
      refcount_table_offset: 32766 * CLUSTER,
      refcount_table_clusters: 1,
      refcountBlocksOffset: 32767 * CLUSTER,
      refcountBlockCount: 1,
      fileClusters: 32768,
    });
    // One more cluster and a second block is needed, which itself fits.
    const grows = layoutTables(32766, 1);
    assert.equal(grows.refcountBlockCount, 2);
    assert.equal(grows.fileClusters, 32770);
    // 8192 blocks fill one table cluster; beyond that the table grows too.
    const large = layoutTables(8192 * 32768, 200);
    assert.equal(large.refcountBlockCount, 8193);
    assert.equal(large.refcount_table_clusters, 2);
    assert.ok(large.refcountBlockCount * 32768 >= large.fileClusters);
  });
});
