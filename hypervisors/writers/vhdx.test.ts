import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, readFile, stat, writeFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';

import { crc32c } from '../../builder/checksum/crc32c.js';
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
import { createVhdxWriter, VHDX_MAX_DISK_SIZE, type VhdxWriterOptions } from './vhdx.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const BLOCK_SIZE = 2 * MiB;
const UNIQUE_ID = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

// The spec's GUIDs in binary form (first three fields little-endian), written out by hand.
const BAT_REGION = '6677c22d23f600429d64115e9bfd4a08';
const METADATA_REGION = '06a27c8b90479a4bb8fe575f050f886e';
const FILE_PARAMETERS = '3767a1ca36fa434db3b633f0aa44e76b';
const VIRTUAL_DISK_SIZE = '2442a52f1bcd7648b2115dbed83bf4b8';
const PAGE_83_DATA = 'ab12cabee6b2234593efc309e000c746';
const LOGICAL_SECTOR_SIZE = '1dbf41816fa90947ba47f233a8faab5f';
const PHYSICAL_SECTOR_SIZE = 'c748a3cd5d4471449cc9e9885251c556';

const PAYLOAD_BLOCK_ZERO = 2;
const PAYLOAD_BLOCK_FULLY_PRESENT = 6;
const SB_BLOCK_NOT_PRESENT = 0;

const dir = useTempDir('lbbuild-vhdx-test-');
let rawDisk: string;

before(async () => {
  rawDisk = dir('disk.raw');
  await makeBlockSampleDisk(rawDisk);
});

const ZERO_CHUNK = Buffer.alloc(CHUNK_SIZE);

async function writeVhdx(name: string, uniqueId = UNIQUE_ID): Promise<string> {
  const path = dir(name);
  const writer = await createVhdxWriter({ path, diskSize: DISK_SIZE, uniqueId });
  await feedRawDisk(writer, rawDisk);
  return path;
}

async function assertQemuSeesRawDisk(image: string, raw: string): Promise<void> {
  assert.match(await run('qemu-img', ['check', '-f', 'vhdx', image]), /No errors were found/);
  const info = JSON.parse(await run('qemu-img', ['info', '-f', 'vhdx', '--output=json', image]));
  assert.equal(info.format, 'vhdx');
  assert.equal(info['virtual-size'], (await stat(raw)).size);
  assert.match(await run('qemu-img', ['compare', '-f', 'raw', '-F', 'vhdx', raw, image]), /Images are identical/);
}

/** CRC-32C of `structure` with its Checksum field (bytes 4-7) taken as zero. */
function checksumOf(structure: Buffer): number {
  const copy = Buffer.from(structure);
  copy.fill(0, 4, 8);
  return crc32c(copy);
}

function batEntry(file: Buffer, batOffset: number, index: number): { state: number; fileOffset: number } {
  const entry = file.readBigUInt64LE(batOffset + index * 8);
  return { state: Number(entry & 7n), fileOffset: Number(entry >> 20n) * MiB };
}

interface RegionEntry {
  guid: string;
  fileOffset: number;
  length: number;
  required: number;
}

function regionEntries(table: Buffer): RegionEntry[] {
  return Array.from({ length: table.readUInt32LE(8) }, (_, i) => {
    const entry = table.subarray(16 + i * 32, 48 + i * 32);
    return {
      guid: entry.toString('hex', 0, 16),
      fileOffset: Number(entry.readBigUInt64LE(16)),
      length: entry.readUInt32LE(24),
      required: entry.readUInt32LE(28),
    };
  });
}

describe('dynamic VHDX', () => {
  let image: string;
  let file: Buffer;
  before(async () => {
    image = await writeVhdx('disk.vhdx');
    file = await readFile(image);
  });

  it('passes qemu-img check and reads back as the raw disk in qemu and libvhdi', async () => {
    await assertQemuSeesRawDisk(image, rawDisk);
    const vhdiinfo = await run('vhdiinfo', [image]);
    assert.match(vhdiinfo, /Format\s*:\s*VHDX \(version 2\)/);
    assert.equal(Number(/Media size\s*:.*\((\d+) bytes\)/.exec(vhdiinfo)?.[1]), DISK_SIZE);
    assert.equal(await sha256ThroughLibvhdi(image, dir()), await sha256File(rawDisk));
  });

  it('starts with the file type identifier', () => {
    assert.equal(file.toString('latin1', 0, 8), 'vhdxfile');
    assert.equal(file.toString('utf16le', 8, 8 + 14), 'lbbuild');
  });

  it('has two headers with valid CRC-32C, the second current', () => {
    const headers = [64 * KiB, 128 * KiB].map((offset) => file.subarray(offset, offset + 4 * KiB));
    headers.forEach((header, i) => {
      assert.equal(header.toString('latin1', 0, 4), 'head', 'Signature');
      assert.equal(header.readUInt32LE(4), checksumOf(header), 'Checksum');
      assert.equal(header.readBigUInt64LE(8), BigInt(i + 1), 'SequenceNumber');
      assert.ok(header.subarray(48, 64).every((byte) => byte === 0), 'LogGuid is zero: no log to replay');
      assert.equal(header.readUInt16LE(64), 0, 'LogVersion');
      assert.equal(header.readUInt16LE(66), 1, 'Version');
      assert.equal(header.readUInt32LE(68), MiB, 'LogLength');
      assert.equal(header.readBigUInt64LE(72), BigInt(MiB), 'LogOffset');
      assert.ok(header.subarray(80).every((byte) => byte === 0), 'Reserved');
    });
    assert.notDeepEqual(headers[0]!.subarray(16, 32), Buffer.alloc(16), 'FileWriteGuid is set');
    assert.notDeepEqual(headers[0]!.subarray(32, 48), Buffer.alloc(16), 'DataWriteGuid is set');
    assert.deepEqual(headers[0]!.subarray(16, 48), headers[1]!.subarray(16, 48), 'same GUIDs in both');
  });

  it('has the region table and its copy, naming the BAT and metadata regions', () => {
    const table = file.subarray(192 * KiB, 256 * KiB);
    assert.deepEqual(file.subarray(256 * KiB, 320 * KiB), table, 'copy at 256 KiB');
    assert.equal(table.toString('latin1', 0, 4), 'regi', 'Signature');
    assert.equal(table.readUInt32LE(4), checksumOf(table), 'Checksum over 64 KiB');
    const entries = regionEntries(table);
    assert.deepEqual(entries.map((entry) => entry.guid).sort(), [BAT_REGION, METADATA_REGION].sort());
    for (const entry of entries) {
      assert.equal(entry.required, 1);
      assert.equal(entry.fileOffset % MiB, 0);
      assert.ok(entry.fileOffset >= 2 * MiB, 'after the header section and the log');
      assert.ok(entry.length > 0 && entry.length % MiB === 0);
      assert.ok(entry.fileOffset + entry.length <= file.length);
    }
  });

  it('has the metadata items a reader requires', () => {
    const metadataRegion = regionEntries(file.subarray(192 * KiB)).find((entry) => entry.guid === METADATA_REGION)!;
    const region = file.subarray(metadataRegion.fileOffset, metadataRegion.fileOffset + metadataRegion.length);
    assert.equal(region.toString('latin1', 0, 8), 'metadata', 'Signature');
    const items = new Map<string, { flags: number; data: Buffer }>();
    for (let i = 0; i < region.readUInt16LE(10); i++) {
      const entry = region.subarray(32 + i * 32, 64 + i * 32);
      const offset = entry.readUInt32LE(16);
      assert.ok(offset >= 64 * KiB, 'items follow the 64 KiB table');
      const data = region.subarray(offset, offset + entry.readUInt32LE(20));
      items.set(entry.toString('hex', 0, 16), { flags: entry.readUInt32LE(24), data });
    }
    const isRequired = 0b100;
    const isVirtualDisk = 0b010;
    assert.equal(items.size, 5);
    assert.deepEqual(items.get(FILE_PARAMETERS), {
      flags: isRequired,
      data: Buffer.from([0, 0, 0x20, 0, 0, 0, 0, 0]), // BlockSize 2 MiB, no flags
    });
    const virtualDiskSize = items.get(VIRTUAL_DISK_SIZE)!;
    assert.equal(virtualDiskSize.flags, isRequired | isVirtualDisk);
    assert.equal(virtualDiskSize.data.readBigUInt64LE(), BigInt(DISK_SIZE));
    const page83 = items.get(PAGE_83_DATA)!;
    assert.equal(page83.flags, isRequired | isVirtualDisk);
    assert.equal(page83.data.length, 16);
    assert.notDeepEqual(page83.data, Buffer.alloc(16));
    assert.deepEqual(items.get(LOGICAL_SECTOR_SIZE), { flags: isRequired | isVirtualDisk, data: u32(512) });
    assert.deepEqual(items.get(PHYSICAL_SECTOR_SIZE), { flags: isRequired | isVirtualDisk, data: u32(4096) });
  });

  it('has a BAT with fully present blocks for data and zero blocks for the rest', async () => {
    const batRegion = regionEntries(file.subarray(192 * KiB)).find((entry) => entry.guid === BAT_REGION)!;
    const raw = await readFile(rawDisk);
    for (let block = 0; block < DISK_SIZE / BLOCK_SIZE; block++) {
      const { state, fileOffset } = batEntry(file, batRegion.fileOffset, block);
      if (ALLOCATED_BLOCKS.includes(block)) {
        assert.equal(state, PAYLOAD_BLOCK_FULLY_PRESENT, `block ${block}`);
        assert.ok(fileOffset >= batRegion.fileOffset + batRegion.length, `block ${block} after the BAT`);
        assert.deepEqual(
          file.subarray(fileOffset, fileOffset + BLOCK_SIZE),
          raw.subarray(block * BLOCK_SIZE, (block + 1) * BLOCK_SIZE),
          `block ${block} data`,
        );
      } else {
        assert.deepEqual({ state, fileOffset }, { state: PAYLOAD_BLOCK_ZERO, fileOffset: 0 }, `block ${block}`);
      }
    }
    assert.equal(file.length, batRegion.fileOffset + batRegion.length + ALLOCATED_BLOCKS.length * BLOCK_SIZE);
  });
});

describe('VHDX of a disk ending in half a block', () => {
  it('reads back as the raw disk', async () => {
    const oddDisk = dir('odd.raw');
    await writeFile(oddDisk, randomBytes(5 * MiB)); // blocks 0 and 1 full, block 2 half
    const image = dir('odd.vhdx');
    await feedRawDisk(await createVhdxWriter({ path: image, diskSize: 5 * MiB, uniqueId: UNIQUE_ID }), oddDisk);
    await assertQemuSeesRawDisk(image, oddDisk);
    assert.equal(await sha256ThroughLibvhdi(image, dir()), await sha256File(oddDisk));
  });
});

describe('VHDX larger than one chunk of 2048 blocks', () => {
  it('puts a sector bitmap entry between the chunks', async () => {
    const diskSize = 4098 * MiB; // 2049 blocks: one more than a chunk
    const last = randomBytes(CHUNK_SIZE);
    const image = dir('big.vhdx');
    const writer = await createVhdxWriter({ path: image, diskSize, uniqueId: UNIQUE_ID });
    for (let offset = 0; offset < diskSize; offset += CHUNK_SIZE) {
      await writer.write({ offset, length: CHUNK_SIZE, data: offset === diskSize - CHUNK_SIZE ? last : null });
    }
    await writer.finish();

    const file = await readFile(image);
    const batOffset = regionEntries(file.subarray(192 * KiB)).find((entry) => entry.guid === BAT_REGION)!.fileOffset;
    for (let index = 0; index < 2048; index++) {
      assert.equal(batEntry(file, batOffset, index).state, PAYLOAD_BLOCK_ZERO, `payload entry ${index}`);
    }
    assert.deepEqual(batEntry(file, batOffset, 2048), { state: SB_BLOCK_NOT_PRESENT, fileOffset: 0 });
    assert.equal(batEntry(file, batOffset, 2049).state, PAYLOAD_BLOCK_FULLY_PRESENT, 'block 2048');
    assert.equal(file.readBigUInt64LE(batOffset + 2050 * 8), 0n, 'nothing after the last payload entry');

    // qemu finds the last block through the interleaved BAT. (Reading the
    // whole 4 GiB back would take seconds, so only the last block is read.)
    assert.match(await run('qemu-img', ['check', '-f', 'vhdx', image]), /No errors were found/);
    const info = JSON.parse(await run('qemu-img', ['info', '-f', 'vhdx', '--output=json', image]));
    assert.equal(info['virtual-size'], diskSize);
    const lastBlock = dir('big-last-block.raw');
    const window = `driver=raw,offset=${diskSize - BLOCK_SIZE},size=${BLOCK_SIZE}`;
    const source = `${window},file.driver=vhdx,file.file.filename=${image}`;
    await run('qemu-img', ['convert', '--image-opts', source, '-O', 'raw', lastBlock]);
    assert.deepEqual(await readFile(lastBlock), Buffer.concat([ZERO_CHUNK, last]));
  });
});

describe('createVhdxWriter options', () => {
  it('refuses a disk over 64 TiB before creating the file', async () => {
    const path = dir('too-big.vhdx');
    await assert.rejects(
      createVhdxWriter({ path, diskSize: VHDX_MAX_DISK_SIZE + MiB, uniqueId: UNIQUE_ID }),
      /64 TiB/,
    );
    await assert.rejects(access(path), { code: 'ENOENT' });
  });

  it('names the bad option and its value', async () => {
    const good: VhdxWriterOptions = { path: dir('bad.vhdx'), diskSize: DISK_SIZE, uniqueId: UNIQUE_ID };
    const bad: Array<[Partial<VhdxWriterOptions>, RegExp]> = [
      [{ diskSize: DISK_SIZE + 4096 }, /diskSize.*67112960/],
      [{ diskSize: -MiB }, /diskSize.*-1048576/],
      [{ uniqueId: Buffer.alloc(17) }, /uniqueId.*17 bytes/],
      [{ path: '' }, /path/],
    ];
    for (const [override, message] of bad) {
      await assert.rejects(createVhdxWriter({ ...good, ...override }), message);
    }
    await assert.rejects(access(good.path), { code: 'ENOENT' });
  });
});

describe('VHDX writer', () => {
  it('gives identical bytes for the same input and options', async () => {
    const first = await writeVhdx('first.vhdx');
    const second = await writeVhdx('second.vhdx');
    assert.equal(await sha256File(first), await sha256File(second));
  });

  it('derives its GUIDs from uniqueId', async () => {
    const [mine, other] = await Promise.all([
      writeVhdx('my-id.vhdx').then((path) => readFile(path)),
      writeVhdx('other-id.vhdx', Buffer.alloc(16, 1)).then((path) => readFile(path)),
    ]);
    const fileWriteGuid = (file: Buffer) => file.subarray(64 * KiB + 16, 64 * KiB + 32);
    assert.notDeepEqual(fileWriteGuid(mine), fileWriteGuid(other));
  });

  it('removes the partial file on abort()', async () => {
    const path = dir('aborted.vhdx');
    const writer = await createVhdxWriter({ path, diskSize: DISK_SIZE, uniqueId: UNIQUE_ID });
    await writer.write({ offset: 0, length: CHUNK_SIZE, data: randomBytes(CHUNK_SIZE) });
    await writer.abort();
    await assert.rejects(access(path), { code: 'ENOENT' });
  });

  it('rejects chunks out of order and finish() before the end of the disk', async () => {
    const skipping = await createVhdxWriter({ path: dir('skip.vhdx'), diskSize: DISK_SIZE, uniqueId: UNIQUE_ID });
    await assert.rejects(skipping.write({ offset: CHUNK_SIZE, length: CHUNK_SIZE, data: null }), /offset 0/);
    await skipping.abort();

    const short = await createVhdxWriter({ path: dir('short.vhdx'), diskSize: DISK_SIZE, uniqueId: UNIQUE_ID });
    await short.write({ offset: 0, length: CHUNK_SIZE, data: null });
    await assert.rejects(short.finish(), /finish/);
    await short.abort();
  });
});

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
}
