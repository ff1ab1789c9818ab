/**
 * Tests for the VMDK writers: qemu-img and libvmdk's vmdkinfo must accept the
 * output and read back the same disk, and the header, markers and tables are
 * checked field by field against the Virtual Disk Format 1.1 spec with a parser
 * written here, independently of vmdk-layout.ts.
 *
 * Needs qemu-img (qemu-utils) and vmdkinfo (libvmdk-utils); without them the
 * tests fail rather than skip.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { inflateSync } from 'node:zlib';

import { writeDiskImages } from './fanout.js';
import { readRawDisk } from './raw-source.js';
import { feedRawDisk, run, useTempDir } from './test-support.js';
import { CHUNK_SIZE, type DiskImageWriter } from './types.js';
import { diskGeometry, type VmdkWriterOptions } from './vmdk-layout.js';
import { createVmdkSparseWriter } from './vmdk-sparse.js';
import { createVmdkStreamWriter } from './vmdk-stream.js';

const MiB = 1024 * 1024;
const SECTOR = 512;
const GRAIN = 64 * 1024;
const DISK_SIZE = 64 * MiB;
const CAPACITY = DISK_SIZE / SECTOR;
const GD_AT_END = 0xffffffffffffffffn;

type CreateWriter = (options: VmdkWriterOptions) => Promise<DiskImageWriter>;

const kinds = [
  { name: 'streamOptimized', create: createVmdkStreamWriter, vmdkinfoType: 'Stream optimized' },
  { name: 'monolithicSparse', create: createVmdkSparseWriter, vmdkinfoType: 'Monolithic sparse' },
] as const;

const dir = useTempDir('vmdk-test-');
let rawDisk: string;
let zeroDisk: string;
let raw: Buffer;

before(async () => {
  rawDisk = dir('disk.raw');
  zeroDisk = dir('zero.raw');
  raw = Buffer.alloc(DISK_SIZE);
  // Full random MiB, then two grains that are mostly zero.
  random(MiB, 'first').copy(raw, 0);
  random(1000, 'grain start').copy(raw, MiB + 3 * GRAIN);
  random(100, 'grain end').copy(raw, MiB + 8 * GRAIN - 100);
  // Compressible data, so grain markers of very different sizes.
  Buffer.from('load balancer '.repeat((2 * MiB) / 14)).copy(raw, 3 * MiB);
  // Across the boundary between the first and second grain table (32 MiB).
  random(8192, 'table boundary').copy(raw, 32 * MiB - 4096);
  // The very last MiB, including the last sector; large holes in between.
  random(4096, 'last MiB').copy(raw, DISK_SIZE - MiB);
  random(SECTOR, 'last sector').copy(raw, DISK_SIZE - SECTOR);
  await writeRaw(rawDisk, raw);
  await writeRaw(zeroDisk, Buffer.alloc(DISK_SIZE));
});

for (const kind of kinds) {
  describe(`${kind.name} writer`, () => {
    let out: string;
    let file: Buffer;

    before(async () => {
      out = dir(kind.name, 'out.vmdk');
      await convert(kind.create, rawDisk, out);
      file = await readFile(out);
    });

    test('qemu-img check finds no errors', async () => {
      const report = await run('qemu-img', ['check', '-f', 'vmdk', out]);
      assert.match(report, /No errors were found/);
    });

    test('qemu-img compare says the raw disk and the VMDK are identical', async () => {
      const report = await run('qemu-img', ['compare', '-f', 'raw', '-F', 'vmdk', rawDisk, out]);
      assert.match(report, /Images are identical/);
    });

    test('qemu-img info reports the virtual size and subformat', async () => {
      const info = JSON.parse(await run('qemu-img', ['info', '--output=json', '-f', 'vmdk', out]));
      assert.equal(info['virtual-size'], DISK_SIZE);
      assert.equal(info['format-specific'].data['create-type'], kind.name);
      assert.equal(info['format-specific'].data.cid, 0x1234abcd);
    });

    test('libvmdk vmdkinfo accepts the file', async () => {
      const report = await run('vmdkinfo', [out]);
      assert.match(report, new RegExp(`Disk type:\\s+${kind.vmdkinfoType}`));
      assert.match(report, new RegExp(`Media size:.*\\(${DISK_SIZE} bytes\\)`));
    });

    test('embedded descriptor', () => {
      const header = parseHeader(file);
      assert.equal(header.descriptorOffset, 1);
      assert.equal(header.descriptorSize, 20);
      const area = file.subarray(SECTOR, (1 + header.descriptorSize) * SECTOR);
      const text = area.toString('utf8', 0, area.indexOf(0));
      assert.match(text, /^# Disk DescriptorFile\n/);
      assert.match(text, /^CID=1234abcd$/m);
      assert.match(text, /^parentCID=ffffffff$/m);
      assert.match(text, new RegExp(`^createType="${kind.name}"$`, 'm'));
      assert.match(text, new RegExp(`^RW ${CAPACITY} SPARSE "out.vmdk"$`, 'm'));
      assert.match(text, /^ddb\.virtualHWVersion = "7"$/m);
      assert.match(text, /^ddb\.adapterType = "lsilogic"$/m);
      // 131072 sectors / (255 heads * 63 sectors)
      assert.match(text, /^ddb\.geometry\.cylinders = "8"$/m);
      assert.match(text, /^ddb\.geometry\.heads = "255"$/m);
      assert.match(text, /^ddb\.geometry\.sectors = "63"$/m);
    });

    test('two runs give identical bytes', async () => {
      const again = dir(`${kind.name}-again`, 'out.vmdk');
      await convert(kind.create, rawDisk, again);
      assert.ok(file.equals(await readFile(again)));
    });

    test('an all-zero disk gives a tiny file that reads back as zeros', async () => {
      const empty = dir(`${kind.name}-zero`, 'out.vmdk');
      await convert(kind.create, zeroDisk, empty);
      const size = (await readFile(empty)).length;
      assert.ok(size <= 80 * 1024, `${size} bytes`);
      await run('qemu-img', ['check', '-f', 'vmdk', empty]);
      assert.match(
        await run('qemu-img', ['compare', '-f', 'raw', '-F', 'vmdk', zeroDisk, empty]),
        /Images are identical/,
      );
    });

    test('bad options throw an Error naming the option and the value', async () => {
      const bad = dir(`${kind.name}-bad.vmdk`);
      const good = options(bad);
      assert.throws(() => kind.create({ ...good, diskSize: MiB + 512 }), /diskSize.*1049088/);
      assert.throws(() => kind.create({ ...good, diskSize: 0 }), /diskSize.*\b0\b/);
      assert.throws(
        () => kind.create({ ...good, adapterType: 'scsi' as 'ide' }),
        /adapterType.*"scsi"/,
      );
      assert.throws(() => kind.create({ ...good, virtualHWVersion: 'seven' }), /virtualHWVersion.*"seven"/);
      assert.throws(() => kind.create({ ...good, cid: 2 ** 32 }), /cid.*4294967296/);
      assert.throws(() => kind.create({ ...good, path: dir('a"b.vmdk') }), /path.*a\\"b/);
      assert.equal(existsSync(bad), false);
    });

    test('chunks out of order are refused, and abort() removes the partial file', async () => {
      const partial = dir(`${kind.name}-partial.vmdk`);
      const writer = await kind.create(options(partial));
      await writer.write({ offset: 0, length: CHUNK_SIZE, data: raw.subarray(0, CHUNK_SIZE) });
      await assert.rejects(
        writer.write({ offset: 2 * MiB, length: CHUNK_SIZE, data: null }),
        /offset 1048576.*offset 2097152/,
      );
      await assert.rejects(writer.finish(), /finish\(\) after 1048576 of 67108864 bytes/);
      await writer.abort();
      assert.equal(existsSync(partial), false);
    });
  });
}

describe('streamOptimized layout', () => {
  let file: Buffer;

  before(async () => {
    const out = dir('layout-stream', 'out.vmdk');
    await convert(createVmdkStreamWriter, rawDisk, out);
    file = await readFile(out);
  });

  test('header fields', () => {
    const header = parseHeader(file);
    assert.equal(header.magic, 'KDMV');
    assert.equal(header.version, 3);
    // newline test | compressed grains | markers; no redundant grain directory
    assert.equal(header.flags, 0x1 | 0x10000 | 0x20000);
    assert.equal(header.capacity, CAPACITY);
    assert.equal(header.grainSize, 128);
    assert.equal(header.numGTEsPerGT, 512);
    assert.equal(header.rgdOffset, 0n);
    assert.equal(header.gdOffset, GD_AT_END);
    assert.equal(header.overHead, 128);
    assert.equal(header.uncleanShutdown, 0);
    assert.equal(header.endLineChars, '\n \r\n');
    assert.equal(header.compressAlgorithm, 1);
    assert.ok(header.padIsZero);
  });

  test('footer marker, footer (header with the real gdOffset) and end-of-stream marker end the file', () => {
    const eos = file.subarray(file.length - SECTOR);
    assert.ok(eos.equals(Buffer.alloc(SECTOR)), 'end-of-stream marker is an all-zero sector');
    const footerMarker = parseMarker(file, file.length / SECTOR - 3);
    assert.deepEqual(footerMarker, { val: 1n, size: 0, type: 3 });

    const header = parseHeader(file);
    const footer = parseHeader(file.subarray(file.length - 2 * SECTOR));
    assert.deepEqual({ ...footer, gdOffset: GD_AT_END }, header);
    assert.notEqual(footer.gdOffset, GD_AT_END);
    const gdMarker = parseMarker(file, Number(footer.gdOffset) - 1);
    assert.deepEqual(gdMarker, { val: 1n, size: 0, type: 2 });
  });

  test('the stream walks marker by marker, sector-aligned, from overHead to the end-of-stream marker', () => {
    const { grains, metadata } = walkStream(file);
    assert.deepEqual(
      metadata.map((m) => m.type),
      [1, 1, 2, 3, 0],
      'a grain table for each 32 MiB half of the disk, then GD, footer, EOS',
    );
    assert.equal(metadata.at(-1)!.sector, file.length / SECTOR - 1);
    for (const marker of metadata.filter((m) => m.type === 1)) assert.equal(marker.val, 4n);

    // Only the non-zero grains, in order, each inflating to the raw disk's bytes.
    assert.deepEqual(
      grains.map((g) => g.lba),
      nonZeroGrainLbas(raw),
    );
    for (const grain of grains) {
      assert.ok(grain.data.equals(raw.subarray(grain.lba * SECTOR, grain.lba * SECTOR + GRAIN)));
    }
  });

  test('grain directory and grain tables point at the grain markers', () => {
    const footer = parseHeader(file.subarray(file.length - 2 * SECTOR));
    const directory = readTable(file, Number(footer.gdOffset), 2);
    const { grains, metadata } = walkStream(file);
    const tables = metadata.filter((m) => m.type === 1).map((m) => m.sector + 1);
    assert.deepEqual(directory, tables);

    const pointed = directory.flatMap((table, t) =>
      readTable(file, table, 512).flatMap((sector, i) =>
        sector === 0 ? [] : [{ lba: (t * 512 + i) * 128, sector }],
      ),
    );
    assert.deepEqual(
      pointed,
      grains.map((g) => ({ lba: g.lba, sector: g.sector })),
    );
  });
});

test('two streams written in one fan-out, sharing their compression, come out as each does alone', async () => {
  const alone = [dir('alone', 'a.vmdk'), dir('alone', 'b.vmdk')];
  const together = [dir('together', 'a.vmdk'), dir('together', 'b.vmdk')];
  const variants: Array<Partial<VmdkWriterOptions>> = [{ virtualHWVersion: '7' }, { virtualHWVersion: '4', adapterType: 'ide' }];
  await convert(createVmdkStreamWriter, rawDisk, alone[0]!, variants[0]);
  await convert(createVmdkStreamWriter, rawDisk, alone[1]!, variants[1]);
  await mkdir(path.dirname(together[0]!), { recursive: true });
  const writers = await Promise.all(together.map((out, i) => createVmdkStreamWriter(options(out, variants[i]))));
  await writeDiskImages(readRawDisk(rawDisk), writers);
  for (let i = 0; i < 2; i++) assert.ok((await readFile(together[i]!)).equals(await readFile(alone[i]!)), `stream ${i}`);
  assert.ok(!(await readFile(alone[0]!)).equals(await readFile(alone[1]!)), 'the two descriptors differ');
});

describe('monolithicSparse layout', () => {
  let file: Buffer;

  before(async () => {
    const out = dir('layout-sparse', 'out.vmdk');
    await convert(createVmdkSparseWriter, rawDisk, out);
    file = await readFile(out);
  });

  test('header fields', () => {
    const header = parseHeader(file);
    assert.equal(header.magic, 'KDMV');
    assert.equal(header.version, 1);
    // newline test | redundant grain directory; not compressed, no markers
    assert.equal(header.flags, 0x1 | 0x2);
    assert.equal(header.capacity, CAPACITY);
    assert.equal(header.grainSize, 128);
    assert.equal(header.numGTEsPerGT, 512);
    // After the 20-sector descriptor: redundant GD (1 sector) and its 2 tables (4 sectors each),
    // then the GD and its tables, rounded up to a grain.
    assert.equal(header.rgdOffset, 21n);
    assert.equal(header.gdOffset, 30n);
    assert.equal(header.overHead, 128);
    assert.equal(header.uncleanShutdown, 0);
    assert.equal(header.endLineChars, '\n \r\n');
    assert.equal(header.compressAlgorithm, 0);
    assert.ok(header.padIsZero);
  });

  test('both grain directories point at preallocated grain tables with the same entries', () => {
    assert.deepEqual(readTable(file, 21, 2), [22, 26]);
    assert.deepEqual(readTable(file, 30, 2), [31, 35]);
    assert.deepEqual(readTable(file, 22, 1024), readTable(file, 31, 1024));
  });

  test('only non-zero grains are stored, uncompressed, in disk order after overHead', () => {
    const entries = readTable(file, 31, 1024);
    const lbas = nonZeroGrainLbas(raw);
    assert.deepEqual(
      entries.flatMap((sector, i) => (sector === 0 ? [] : [i * 128])),
      lbas,
    );
    lbas.forEach((lba, n) => {
      const sector = entries[lba / 128]!;
      assert.equal(sector, 128 + n * 128);
      assert.ok(
        file
          .subarray(sector * SECTOR, sector * SECTOR + GRAIN)
          .equals(raw.subarray(lba * SECTOR, lba * SECTOR + GRAIN)),
      );
    });
    assert.equal(file.length, (128 + lbas.length * 128) * SECTOR);
  });
});

test('descriptor geometry follows the adapter type', async () => {
  assert.deepEqual(diskGeometry(CAPACITY, 'ide'), { cylinders: 130, heads: 16, sectors: 63 });
  assert.deepEqual(diskGeometry(CAPACITY, 'buslogic'), { cylinders: 8, heads: 255, sectors: 63 });
  const twentyGiB = (20 * 1024 * MiB) / SECTOR;
  assert.deepEqual(diskGeometry(twentyGiB, 'ide'), { cylinders: 16383, heads: 16, sectors: 63 });
  assert.deepEqual(diskGeometry(twentyGiB, 'lsilogic'), { cylinders: 2610, heads: 255, sectors: 63 });

  const out = dir('ide', 'out.vmdk');
  await convert(createVmdkSparseWriter, zeroDisk, out, { adapterType: 'ide', virtualHWVersion: '4' });
  const text = (await readFile(out)).toString('utf8', SECTOR, 21 * SECTOR);
  assert.match(text, /^ddb\.adapterType = "ide"$/m);
  assert.match(text, /^ddb\.virtualHWVersion = "4"$/m);
  assert.match(text, /^ddb\.geometry\.cylinders = "130"$/m);
  assert.match(text, /^ddb\.geometry\.heads = "16"$/m);
});

// ─── Helpers ────────────────────────────────────────────────────────────────

function options(out: string, extra: Partial<VmdkWriterOptions> = {}): VmdkWriterOptions {
  return {
    path: out,
    diskSize: DISK_SIZE,
    adapterType: 'lsilogic',
    virtualHWVersion: '7',
    cid: 0x1234abcd,
    ...extra,
  };
}

/** Feeds a raw disk to a writer the way the builder does: 1 MiB at a time, zeros as null. */
async function convert(
  create: CreateWriter,
  rawPath: string,
  out: string,
  extra: Partial<VmdkWriterOptions> = {},
): Promise<void> {
  await mkdir(path.dirname(out), { recursive: true });
  const writer = await create(options(out, extra));
  // One buffer, reused for every chunk: writers must not hold on to it.
  await feedRawDisk(writer, rawPath, { reuseBuffer: true });
}

/** Reproducible pseudo-random bytes: an AES-CTR keystream keyed by the seed. */
function random(length: number, seed: string): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

/** Writes only the non-zero MiBs, leaving the rest of the file a hole. */
async function writeRaw(file: string, data: Buffer): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await handle.truncate(data.length);
    for (let offset = 0; offset < data.length; offset += MiB) {
      const chunk = data.subarray(offset, offset + MiB);
      if (chunk.some((byte) => byte !== 0)) await handle.write(chunk, 0, chunk.length, offset);
    }
  } finally {
    await handle.close();
  }
}

function nonZeroGrainLbas(disk: Buffer): number[] {
  const lbas: number[] = [];
  for (let offset = 0; offset < disk.length; offset += GRAIN) {
    if (disk.subarray(offset, offset + GRAIN).some((byte) => byte !== 0)) lbas.push(offset / SECTOR);
  }
  return lbas;
}

/** SparseExtentHeader, read straight from the spec's offsets. */
function parseHeader(sector: Buffer) {
  return {
    magic: sector.toString('latin1', 0, 4),
    version: sector.readUInt32LE(4),
    flags: sector.readUInt32LE(8),
    capacity: Number(sector.readBigUInt64LE(12)),
    grainSize: Number(sector.readBigUInt64LE(20)),
    descriptorOffset: Number(sector.readBigUInt64LE(28)),
    descriptorSize: Number(sector.readBigUInt64LE(36)),
    numGTEsPerGT: sector.readUInt32LE(44),
    rgdOffset: sector.readBigUInt64LE(48),
    gdOffset: sector.readBigUInt64LE(56),
    overHead: Number(sector.readBigUInt64LE(64)),
    uncleanShutdown: sector[72],
    endLineChars: sector.toString('latin1', 73, 77),
    compressAlgorithm: sector.readUInt16LE(77),
    padIsZero: sector.subarray(79, SECTOR).every((byte) => byte === 0),
  };
}

function parseMarker(file: Buffer, sector: number) {
  const at = sector * SECTOR;
  return {
    val: file.readBigUInt64LE(at),
    size: file.readUInt32LE(at + 8),
    type: file.readUInt32LE(at + 12),
  };
}

function readTable(file: Buffer, sector: number, entries: number): number[] {
  return Array.from({ length: entries }, (_, i) => file.readUInt32LE(sector * SECTOR + i * 4));
}

/** Reads a streamOptimized file front to back, as a streaming importer would. */
function walkStream(file: Buffer) {
  const grains: Array<{ lba: number; sector: number; data: Buffer }> = [];
  const metadata: Array<{ sector: number; type: number; val: bigint }> = [];
  let sector = parseHeader(file).overHead;
  for (;;) {
    assert.ok((sector + 1) * SECTOR <= file.length, `marker at sector ${sector} is past the end`);
    const marker = parseMarker(file, sector);
    if (marker.size > 0) {
      const start = sector * SECTOR + 12;
      const data = inflateSync(file.subarray(start, start + marker.size));
      assert.equal(data.length, GRAIN);
      grains.push({ lba: Number(marker.val), sector, data });
      sector += Math.ceil((12 + marker.size) / SECTOR);
    } else {
      metadata.push({ sector, type: marker.type, val: marker.val });
      if (marker.type === 0) break;
      sector += 1 + Number(marker.val);
    }
  }
  assert.equal((sector + 1) * SECTOR, file.length, 'end-of-stream marker is the last sector');
  return { grains, metadata };
}
