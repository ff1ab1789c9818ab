import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';

import {
  BLOCK_SAMPLE_ALLOCATED_BLOCKS as ALLOCATED_BLOCKS,
  BLOCK_SAMPLE_SIZE as DISK_SIZE,
  feedRawDisk,
  makeBlockSampleDisk,
  run,
  sha256File,
  sha256ThroughLibvhdi,
  useTempDir,
} from './test-support.js';
import { CHUNK_SIZE } from './types.js';
import { createVhdWriter, diskGeometry, VHD_MAX_DISK_SIZE, type VhdWriterOptions } from './vhd.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const BLOCK_SIZE = 2 * MiB;
const TIMESTAMP = 1_700_000_000;
const UNIQUE_ID = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

const dir = useTempDir('lbbuild-vhd-test-');
let rawDisk: string;

before(async () => {
  rawDisk = dir('disk.raw');
  await makeBlockSampleDisk(rawDisk);
});

async function writeVhd(name: string, options: Partial<VhdWriterOptions> = {}, raw = rawDisk): Promise<string> {
  const path = dir(name);
  const diskSize = (await stat(raw)).size;
  const writer = await createVhdWriter({
    path,
    diskSize,
    type: 'dynamic',
    timestamp: TIMESTAMP,
    uniqueId: UNIQUE_ID,
    ...options,
  });
  await feedRawDisk(writer, raw);
  return path;
}

/** qemu, libvhdi and the raw disk agree on the size and every byte. */
async function assertReadersSeeRawDisk(image: string, raw: string): Promise<void> {
  const diskSize = (await stat(raw)).size;
  // vpc has no `qemu-img check`; -f vpc because a fixed VHD has no header for probing.
  const info = JSON.parse(await run('qemu-img', ['info', '-f', 'vpc', '--output=json', image]));
  assert.equal(info.format, 'vpc');
  assert.equal(info['virtual-size'], diskSize, 'qemu must take Current Size, not the CHS geometry');
  assert.match(await run('qemu-img', ['compare', '-f', 'raw', '-F', 'vpc', raw, image]), /Images are identical/);

  const vhdiinfo = await run('vhdiinfo', [image]);
  assert.match(vhdiinfo, /Format\s*:\s*VHD \(version 1\)/);
  assert.equal(Number(/Media size\s*:.*\((\d+) bytes\)/.exec(vhdiinfo)?.[1]), diskSize);
  assert.equal(await sha256ThroughLibvhdi(image, dir()), await sha256File(raw));
}

/** The spec's checksum: one's complement of the byte sum, with the Checksum field zeroed. */
function specChecksum(structure: Buffer, checksumOffset: number): number {
  const copy = Buffer.from(structure);
  copy.fill(0, checksumOffset, checksumOffset + 4);
  let sum = 0;
  for (const byte of copy) sum += byte;
  return ~sum >>> 0;
}

function assertFooter(footer: Buffer, expected: { dataOffset: bigint; diskType: number }): void {
  assert.equal(footer.length, 512);
  assert.equal(footer.toString('latin1', 0, 8), 'conectix', 'Cookie');
  assert.equal(footer.readUInt32BE(8), 2, 'Features');
  assert.equal(footer.readUInt32BE(12), 0x00010000, 'File Format Version');
  assert.equal(footer.readBigUInt64BE(16), expected.dataOffset, 'Data Offset');
  assert.equal(footer.readUInt32BE(24), TIMESTAMP - 946_684_800, 'Time Stamp');
  assert.equal(footer.toString('latin1', 28, 32), 'win ', 'Creator Application');
  assert.equal(footer.toString('latin1', 36, 40), 'Wi2k', 'Creator Host OS');
  assert.equal(footer.readBigUInt64BE(40), BigInt(DISK_SIZE), 'Original Size');
  assert.equal(footer.readBigUInt64BE(48), BigInt(DISK_SIZE), 'Current Size');
  assert.equal(Number(footer.readBigUInt64BE(48)) % MiB, 0, 'Current Size is whole MiB');
  // 64 MiB = 131072 sectors: 17 sectors per track, 8 heads, 963 cylinders.
  assert.deepEqual([footer.readUInt16BE(56), footer[58], footer[59]], [963, 8, 17], 'Disk Geometry');
  assert.equal(footer.readUInt32BE(60), expected.diskType, 'Disk Type');
  assert.equal(footer.readUInt32BE(64), specChecksum(footer, 64), 'Checksum');
  assert.deepEqual(footer.subarray(68, 84), UNIQUE_ID, 'Unique Id');
  assert.equal(footer[84], 0, 'Saved State');
  assert.ok(footer.subarray(85).every((byte) => byte === 0), 'Reserved');
}

describe('dynamic VHD', () => {
  let image: string;
  before(async () => {
    image = await writeVhd('dynamic.vhd');
  });

  it('reads back as the raw disk in qemu and libvhdi, with the exact size', async () => {
    await assertReadersSeeRawDisk(image, rawDisk);
  });

  it('has the footer twice, the dynamic disk header, the BAT and block bitmaps of the spec', async () => {
    const file = await readFile(image);
    const footer = file.subarray(file.length - 512);
    assertFooter(footer, { dataOffset: 512n, diskType: 3 });
    assert.deepEqual(file.subarray(0, 512), footer, 'footer copy at offset 0');

    const header = file.subarray(512, 1536);
    assert.equal(header.toString('latin1', 0, 8), 'cxsparse', 'Cookie');
    assert.equal(header.readBigUInt64BE(8), 0xffff_ffff_ffff_ffffn, 'Data Offset');
    const tableOffset = Number(header.readBigUInt64BE(16));
    assert.equal(tableOffset, 1536, 'Table Offset');
    assert.equal(header.readUInt32BE(24), 0x00010000, 'Header Version');
    assert.equal(header.readUInt32BE(28), DISK_SIZE / BLOCK_SIZE, 'Max Table Entries');
    assert.equal(header.readUInt32BE(32), BLOCK_SIZE, 'Block Size');
    assert.equal(header.readUInt32BE(36), specChecksum(header, 36), 'Checksum');
    assert.ok(header.subarray(40).every((byte) => byte === 0), 'no parent');

    const blockOffsets: number[] = [];
    for (let block = 0; block < DISK_SIZE / BLOCK_SIZE; block++) {
      const entry = file.readUInt32BE(tableOffset + block * 4);
      if (ALLOCATED_BLOCKS.includes(block)) {
        assert.notEqual(entry, 0xffff_ffff, `block ${block} is allocated`);
        blockOffsets[block] = entry * 512;
        assert.equal((blockOffsets[block]! + 512) % 4096, 0, `block ${block} data is 4 KiB aligned`);
      } else {
        assert.equal(entry, 0xffff_ffff, `block ${block} is not in the file`);
      }
    }
    assert.equal(file.length, blockOffsets[31]! + 512 + BLOCK_SIZE + 512, 'footer follows the last block');

    const bitmap = (block: number) => file.subarray(blockOffsets[block]!, blockOffsets[block]! + 512);
    const halves = (first: number, second: number) =>
      Buffer.concat([Buffer.alloc(256, first), Buffer.alloc(256, second)]);
    assert.deepEqual(bitmap(0), halves(0xff, 0x00), 'block 0: data in its first MiB only');
    assert.deepEqual(bitmap(1), halves(0xff, 0xff), 'block 1: full');
    for (const block of [2, 20, 31]) assert.deepEqual(bitmap(block), halves(0x00, 0xff), `block ${block}`);
  });
});

describe('fixed VHD', () => {
  it('is the disk followed by the footer, and reads back as the raw disk', async () => {
    const image = await writeVhd('fixed.vhd', { type: 'fixed' });
    assert.equal((await stat(image)).size, DISK_SIZE + 512);
    const file = await readFile(image);
    assertFooter(file.subarray(DISK_SIZE), { dataOffset: 0xffff_ffff_ffff_ffffn, diskType: 2 });
    assert.deepEqual(file.subarray(0, DISK_SIZE), await readFile(rawDisk));
    await assertReadersSeeRawDisk(image, rawDisk);
  });
});

describe('dynamic VHD of an all-zero disk', () => {
  it('is only footers, header and BAT, and reads back as zeros', async () => {
    const zeroDisk = dir('zero.raw');
    await writeFile(zeroDisk, '');
    await truncate(zeroDisk, DISK_SIZE);
    const image = await writeVhd('zero.vhd', {}, zeroDisk);
    // footer copy + dynamic disk header + one sector of BAT + footer
    assert.equal((await stat(image)).size, 512 + 1024 + 512 + 512);
    const bat = (await readFile(image)).subarray(1536, 2048);
    assert.ok(bat.every((byte) => byte === 0xff), 'every BAT entry is 0xFFFFFFFF');
    await assertReadersSeeRawDisk(image, zeroDisk);
  });
});

describe('dynamic VHD of a disk ending in half a block', () => {
  it('reserves the whole last block and reads back as the raw disk', async () => {
    const oddDisk = dir('odd.raw');
    await writeFile(oddDisk, randomBytes(5 * MiB)); // blocks 0 and 1 full, block 2 half
    const image = await writeVhd('odd.vhd', {}, oddDisk);
    assert.equal((await readFile(image)).readUInt32BE(512 + 28), 3, 'Max Table Entries');
    await assertReadersSeeRawDisk(image, oddDisk);
  });
});

describe('Disk Geometry', () => {
  const cases: Array<[string, number, [number, number, number]]> = [
    ['3 MiB', 3 * MiB, [90, 4, 17]],
    ['64 MiB', 64 * MiB, [963, 8, 17]],
    ['1 GiB', GiB, [2080, 16, 63]],
    ['40 GiB', 40 * GiB, [20560, 16, 255]],
    ['2040 GiB (capped at 65535/16/255)', 2040 * GiB, [65535, 16, 255]],
  ];
  for (const [name, size, chs] of cases) {
    it(`follows the spec's CHS calculation for ${name}`, () => {
      const geometry = diskGeometry(size);
      assert.deepEqual([geometry.cylinders, geometry.heads, geometry.sectorsPerTrack], chs);
    });
  }
});

describe('createVhdWriter options', () => {
  it('refuses a disk over 2040 GiB before creating the file', async () => {
    const path = dir('too-big.vhd');
    await assert.rejects(
      createVhdWriter({ path, diskSize: 2041 * GiB, type: 'dynamic', timestamp: TIMESTAMP, uniqueId: UNIQUE_ID }),
      (error: Error) => /2041 GiB/.test(error.message) && /2040 GiB/.test(error.message),
    );
    assert.equal(VHD_MAX_DISK_SIZE, 2040 * GiB);
    await assert.rejects(access(path), { code: 'ENOENT' });
  });

  it('names the bad option and its value', async () => {
    const good: VhdWriterOptions = {
      path: dir('bad.vhd'),
      diskSize: DISK_SIZE,
      type: 'dynamic',
      timestamp: TIMESTAMP,
      uniqueId: UNIQUE_ID,
    };
    const bad: Array<[Partial<VhdWriterOptions> & Record<string, unknown>, RegExp]> = [
      [{ diskSize: DISK_SIZE + 512 }, /diskSize.*67109376/],
      [{ diskSize: 0 }, /diskSize.*\b0\b/],
      [{ type: 'sparse' as never }, /type.*sparse/],
      [{ timestamp: 900_000_000 }, /timestamp.*900000000/],
      [{ timestamp: 1.5e9 + 0.5 }, /timestamp.*1500000000\.5/],
      [{ uniqueId: Buffer.alloc(15) }, /uniqueId.*15 bytes/],
      [{ path: '' }, /path/],
    ];
    for (const [override, message] of bad) {
      await assert.rejects(createVhdWriter({ ...good, ...override }), message);
    }
    await assert.rejects(access(good.path), { code: 'ENOENT' });
  });
});

describe('VHD writer', () => {
  it('gives identical bytes for the same input and options', async () => {
    for (const type of ['dynamic', 'fixed'] as const) {
      const first = await writeVhd(`first-${type}.vhd`, { type });
      const second = await writeVhd(`second-${type}.vhd`, { type });
      assert.equal(await sha256File(first), await sha256File(second), type);
    }
  });

  it('removes the partial file on abort()', async () => {
    const path = dir('aborted.vhd');
    const writer = await createVhdWriter({
      path,
      diskSize: DISK_SIZE,
      type: 'dynamic',
      timestamp: TIMESTAMP,
      uniqueId: UNIQUE_ID,
    });
    await writer.write({ offset: 0, length: CHUNK_SIZE, data: randomBytes(CHUNK_SIZE) });
    await writer.abort();
    await assert.rejects(access(path), { code: 'ENOENT' });
  });

  it('rejects chunks out of order and finish() before the end of the disk', async () => {
    const options = { diskSize: DISK_SIZE, type: 'dynamic', timestamp: TIMESTAMP, uniqueId: UNIQUE_ID } as const;
    const skipping = await createVhdWriter({ path: dir('skip.vhd'), ...options });
    await assert.rejects(skipping.write({ offset: CHUNK_SIZE, length: CHUNK_SIZE, data: null }), /offset 0/);
    await skipping.abort();

    const short = await createVhdWriter({ path: dir('short.vhd'), ...options });
    await short.write({ offset: 0, length: CHUNK_SIZE, data: null });
    await assert.rejects(short.finish(), /finish/);
    await short.abort();
  });
});
