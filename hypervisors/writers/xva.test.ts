import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { writeDiskImages } from './fanout.js';
import { isAllZero } from '../../builder/disk/all-zero.js';
import { readRawDisk } from './raw-source.js';
import { exists, makeDisk, makeSampleDisk, run, useTempDir } from './test-support.js';
import { CHUNK_SIZE } from './types.js';
import { ustarEndOfArchive, ustarHeader, ustarPadding } from './ustar.js';
import { createXvaWriter } from './xva.js';

const MiB = CHUNK_SIZE;
const TIMESTAMP = 1_700_000_000;
const VDI_REF = 'Ref:7';

/** A minimal ova.xml: XML-RPC-style metadata naming one VDI, Ref:7. */
const OVA_XML = `<?xml version="1.0" ?>
<value><struct>
<member><name>version</name><value><struct>
<member><name>hostname</name><value>lbbuild-test</value></member>
<member><name>date</name><value>2023-11-14</value></member>
<member><name>product_version</name><value>8.2.0</value></member>
<member><name>product_brand</name><value>XenServer</value></member>
<member><name>build_number</name><value>test</value></member>
<member><name>xapi_major</name><value><i4>1</i4></value></member>
<member><name>xapi_minor</name><value><i4>1</i4></value></member>
<member><name>export_vsn</name><value><i4>2</i4></value></member>
</struct></value></member>
<member><name>objects</name><value><array><data>
<value><struct>
<member><name>class</name><value>VDI</value></member>
<member><name>id</name><value>${VDI_REF}</value></member>
<member><name>snapshot</name><value><struct>
<member><name>name_label</name><value>lb-disk</value></member>
<member><name>virtual_size</name><value>67108864</value></member>
<member><name>type</name><value>system</value></member>
</struct></value></member>
</struct></value>
</data></array></value></member>
</struct></value>
`;

const dir = useTempDir('lbbuild-xva-');

async function convert(raw: string, xva: string): Promise<void> {
  const { size } = await stat(raw);
  const writer = createXvaWriter({ path: xva, diskSize: size, ovaXml: OVA_XML, vdiRef: VDI_REF, timestamp: TIMESTAMP });
  await writeDiskImages(readRawDisk(raw), [writer]);
}

interface TarMember {
  name: string;
  header: Buffer;
  data: Buffer;
}

/** Parses a ustar archive, checking every header checksum and the end-of-archive blocks. */
function parseTar(archive: Buffer): TarMember[] {
  const members: TarMember[] = [];
  let at = 0;
  while (!isAllZero(archive.subarray(at, at + 512))) {
    const header = archive.subarray(at, at + 512);
    const name = header.toString('ascii', 0, 100).replace(/\0+$/, '');
    const stored = parseInt(header.toString('ascii', 148, 156), 8);
    const sum = header.reduce((total, byte, i) => total + (i >= 148 && i < 156 ? 0x20 : byte), 0);
    assert.equal(stored, sum, `header checksum of ${name}`);
    const size = parseInt(header.toString('ascii', 124, 136), 8);
    members.push({ name, header, data: archive.subarray(at + 512, at + 512 + size) });
    at += 512 + Math.ceil(size / 512) * 512;
  }
  assert.equal(archive.length, at + 1024, 'two zero blocks end the archive');
  assert.ok(isAllZero(archive.subarray(at)));
  return members;
}

function sha1(data: Buffer): string {
  return createHash('sha1').update(data).digest('hex');
}

/** Checks an XVA against the raw disk it was made from. */
async function assertXvaOf(raw: string, xva: string): Promise<void> {
  const disk = await readFile(raw);
  const members = parseTar(await readFile(xva));

  assert.equal(members[0].name, 'ova.xml');
  assert.equal(members[0].data.toString('utf8'), OVA_XML);
  for (const { name, header } of members) {
    assert.equal(header.toString('ascii', 100, 108), '0000644\0', `mode of ${name}`);
    assert.equal(header.toString('ascii', 108, 124), '0000000\0'.repeat(2), `uid/gid of ${name}`);
    assert.equal(parseInt(header.toString('ascii', 136, 148), 8), TIMESTAMP, `mtime of ${name}`);
    assert.equal(header.toString('ascii', 156, 157), '0', `typeflag of ${name}`);
    assert.equal(header.toString('ascii', 257, 265), 'ustar\x0000', `magic and version of ${name}`);
    assert.ok(isAllZero(header.subarray(265, 329)), `no user or group name for ${name}`);
  }

  const blocks = members.slice(1);
  assert.equal(blocks.length % 2, 0);
  const present: number[] = [];
  for (let i = 0; i < blocks.length; i += 2) {
    const [block, checksum] = [blocks[i], blocks[i + 1]];
    const match = /^Ref:7\/(\d{8})$/.exec(block.name);
    assert.ok(match, `block name ${block.name}`);
    assert.equal(checksum.name, `${block.name}.checksum`);
    const number = Number(match[1]);
    assert.ok(block.data.equals(disk.subarray(number * MiB, (number + 1) * MiB)), `content of block ${number}`);
    assert.equal(checksum.data.toString('ascii'), sha1(block.data), `checksum of block ${number}`);
    present.push(number);
  }
  const blockCount = disk.length / MiB;
  const expected = Array.from({ length: blockCount }, (_, i) => i).filter(
    (i) => i === 0 || i === blockCount - 1 || !isAllZero(disk.subarray(i * MiB, (i + 1) * MiB)),
  );
  assert.deepEqual(present, expected, 'omitted blocks are exactly the all-zero ones but the first and last');

  // GNU tar lists it, member by member.
  const listing = (await run('tar', ['-tvf', xva])).trim().split('\n');
  assert.deepEqual(
    listing.map((line) => line.split(/\s+/).at(-1)),
    members.map((member) => member.name),
  );

  // xva-img rebuilds the disk from the extracted Ref: directory.
  const extracted = dir(`extract-${Date.now()}`);
  await mkdir(extracted);
  await run('tar', ['-xf', xva, '-C', extracted]);
  const exported = join(extracted, 'disk.raw');
  await run('xva-img', ['-p', 'disk-export', join(extracted, VDI_REF), exported]);
  assert.ok((await readFile(exported)).equals(disk), 'xva-img exports the original disk');
  await rm(extracted, { recursive: true });
}

describe('XVA writer', () => {
  test('writes an XVA that xva-img turns back into the disk', async () => {
    const raw = dir('sample.raw');
    const xva = dir('sample.xva');
    await makeSampleDisk(raw);
    await convert(raw, xva);
    await assertXvaOf(raw, xva);
  });

  test('an all-zero disk keeps only its first and last blocks', async () => {
    const raw = dir('empty.raw');
    const xva = dir('empty.xva');
    await makeDisk(raw, 16 * MiB, []);
    await convert(raw, xva);
    await assertXvaOf(raw, xva);
    const names = parseTar(await readFile(xva)).map((member) => member.name);
    assert.deepEqual(names, [
      'ova.xml',
      'Ref:7/00000000',
      'Ref:7/00000000.checksum',
      'Ref:7/00000015',
      'Ref:7/00000015.checksum',
    ]);
  });

  test('a one-block disk', async () => {
    const raw = dir('one.raw');
    const xva = dir('one.xva');
    await makeDisk(raw, MiB, [[100, randomBytes(10)]]);
    await convert(raw, xva);
    await assertXvaOf(raw, xva);
  });

  test('a bare vdiRef number names the same folder', async () => {
    const raw = dir('bare.raw');
    const xva = dir('bare.xva');
    await makeDisk(raw, 2 * MiB, []);
    const writer = createXvaWriter({ path: xva, diskSize: 2 * MiB, ovaXml: OVA_XML, vdiRef: '7', timestamp: TIMESTAMP });
    await writeDiskImages(readRawDisk(raw), [writer]);
    await assertXvaOf(raw, xva);
  });

  test('is deterministic', async () => {
    const raw = dir('determinism.raw');
    await makeSampleDisk(raw);
    await convert(raw, dir('first.xva'));
    await convert(raw, dir('second.xva'));
    assert.ok((await readFile(dir('first.xva'))).equals(await readFile(dir('second.xva'))));
  });

  test('abort() removes the partial file', async () => {
    const path = dir('aborted.xva');
    const writer = createXvaWriter({ path, diskSize: 4 * MiB, ovaXml: OVA_XML, vdiRef: VDI_REF, timestamp: 0 });
    await writer.write({ offset: 0, length: MiB, data: null });
    assert.equal(await exists(path), true);
    await writer.abort();
    assert.equal(await exists(path), false);
  });

  test('refuses bad options and chunks out of order', async () => {
    const good = { path: dir('x.xva'), diskSize: MiB, ovaXml: OVA_XML, vdiRef: VDI_REF, timestamp: 0 };
    assert.throws(() => createXvaWriter({ ...good, diskSize: 3000 }), /diskSize.*got 3000/);
    assert.throws(() => createXvaWriter({ ...good, vdiRef: 'OpaqueRef:7' }), /vdiRef.*"OpaqueRef:7"/);
    assert.throws(() => createXvaWriter({ ...good, vdiRef: 'Ref:7/..' }), /vdiRef/);
    assert.throws(() => createXvaWriter({ ...good, timestamp: 1.5 }), /timestamp.*1\.5/);
    assert.throws(() => createXvaWriter({ ...good, ovaXml: '' }), /ovaXml/);
    assert.throws(() => createXvaWriter({ ...good, path: '' }), /path/);

    const writer = createXvaWriter({ ...good, path: dir('order.xva'), diskSize: 2 * MiB });
    await assert.rejects(writer.write({ offset: MiB, length: MiB, data: null }), /expected the 1048576-byte chunk at 0/);
    await assert.rejects(writer.finish(), /finish\(\) after 0 of 2097152 bytes/);
    await writer.abort();
  });
});

describe('ustar', () => {
  test('header fields and checksum', () => {
    const header = ustarHeader('dir/file.txt', 1234, 1_000_000);
    assert.equal(header.length, 512);
    const [member] = parseTar(Buffer.concat([header, Buffer.alloc(1234), ustarPadding(1234), ustarEndOfArchive()]));
    assert.equal(member.name, 'dir/file.txt');
    assert.equal(member.data.length, 1234);
    assert.equal(header.toString('ascii', 124, 136), '00000002322\0');
    assert.equal(header.toString('ascii', 136, 148), '00003641100\0');
  });

  test('sizes of 8 GiB and more are stored in base-256', () => {
    const size = 8 * 1024 ** 3 + 5;
    const header = ustarHeader('disk.vmdk', size, 0);
    assert.equal(header[124], 0x80);
    assert.equal(header.readUIntBE(130, 6), size);
    assert.ok(isAllZero(header.subarray(125, 130)));
    assert.equal(ustarHeader('disk.vmdk', 8 ** 11 - 1, 0).toString('ascii', 124, 136), '77777777777\0');
  });

  test('padding and end of archive', () => {
    assert.equal(ustarPadding(0).length, 0);
    assert.equal(ustarPadding(1).length, 511);
    assert.equal(ustarPadding(512).length, 0);
    assert.equal(ustarPadding(MiB + 40).length, 472);
    assert.ok(isAllZero(ustarEndOfArchive()) && ustarEndOfArchive().length === 1024);
  });

  test('refuses names that do not fit', () => {
    assert.throws(() => ustarHeader('x'.repeat(101), 0, 0), /1 to 100 printable ASCII/);
    assert.throws(() => ustarHeader('', 0, 0), /1 to 100 printable ASCII/);
    assert.throws(() => ustarHeader('caf\u00e9', 0, 0), /1 to 100 printable ASCII/);
    assert.throws(() => ustarHeader('a', -1, 0), /size/);
    assert.throws(() => ustarHeader('a', 0, 8 ** 11), /mtime/);
  });
});
