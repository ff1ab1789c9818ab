/** The archive makers on small files: what unzip, tar and bzip2 read back, and no partial archive after a failure. */
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { before, describe, test } from 'node:test';
import { run, useTempDir } from '../writers/test-support.js';
import { writeOva } from './ova.js';
import { writeTarBz2 } from './tar-bz2.js';
import { inFolder, writeZip } from './zip.js';

const MTIME = 1764028800; // 2025-11-25 00:00:00 UTC

const dir = useTempDir('lbbuild-packaging-');
let ovf: string;
let text: string;
let empty: string;

before(async () => {
  ovf = dir('vm.ovf');
  text = dir('notes.txt');
  empty = dir('empty.bin');
  await writeFile(ovf, '<Envelope/>\n');
  await writeFile(text, 'appliance\n'.repeat(10_000));
  await writeFile(empty, '');
});

const missing = () => dir('not-there');

async function assertGone(file: string): Promise<void> {
  await assert.rejects(stat(file), { code: 'ENOENT' }, `${file} was left behind`);
}

describe('zip', () => {
  test('stores the entries in order, deflated unless asked to store, and unzip reads them back', async () => {
    const zip = dir('a.zip');
    await writeZip(zip, [inFolder('pkg', text), inFolder('pkg', ovf, true), inFolder('pkg', empty)], MTIME);
    assert.deepEqual((await run('unzip', ['-Z1', zip])).split('\n'), ['pkg/notes.txt', 'pkg/vm.ovf', 'pkg/empty.bin']);
    const verbose = await run('unzip', ['-Zv', zip]);
    assert.deepEqual(verbose.match(/compression method: +.*/g), [
      'compression method:                             deflated',
      'compression method:                             none (stored)',
      'compression method:                             deflated',
    ]);
    assert.equal(await run('unzip', ['-p', zip, 'pkg/notes.txt']), (await readFile(text, 'utf8')).trimEnd());
    await run('unzip', ['-tq', zip]);
  });

  test('is the same bytes whatever the time zone', async () => {
    const first = dir('tz1.zip');
    const second = dir('tz2.zip');
    const saved = process.env.TZ;
    try {
      process.env.TZ = 'Pacific/Auckland';
      await writeZip(first, [inFolder('pkg', text)], MTIME);
      process.env.TZ = 'America/Los_Angeles';
      await writeZip(second, [inFolder('pkg', text)], MTIME);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
    assert.ok((await readFile(first)).equals(await readFile(second)));
  });

  test('leaves no archive behind when an entry cannot be read', async () => {
    const zip = dir('broken.zip');
    await assert.rejects(writeZip(zip, [inFolder('pkg', text), inFolder('pkg', missing())], MTIME), { code: 'ENOENT' });
    await assertGone(zip);
  });
});

describe('ova', () => {
  test('is a ustar archive that starts with the .ovf', async () => {
    const ova = dir('vm.ova');
    await writeOva(ova, [ovf, text], MTIME);
    assert.deepEqual((await run('tar', ['-tf', ova])).split('\n'), ['vm.ovf', 'notes.txt']);
    assert.equal((await readFile(ova)).subarray(257, 263).toString('latin1'), 'ustar\0');
  });

  test('refuses a package whose first file is not the .ovf', async () => {
    const ova = dir('wrong.ova');
    await assert.rejects(writeOva(ova, [text, ovf], MTIME), /must start with its \.ovf/);
    await assertGone(ova);
  });

  test('leaves no archive behind when a file cannot be read', async () => {
    const ova = dir('broken.ova');
    await assert.rejects(writeOva(ova, [ovf, missing()], MTIME), { code: 'ENOENT' });
    await assertGone(ova);
  });
});

describe('tar.bz2', () => {
  test('is a bzip2-compressed tar that tar reads back', async () => {
    const archive = dir('vm.tar.bz2');
    await writeTarBz2(archive, [{ name: 'vm.xml', path: ovf }, { name: 'disk.img', path: text }], MTIME);
    assert.equal((await readFile(archive)).subarray(0, 3).toString('latin1'), 'BZh');
    assert.deepEqual((await run('tar', ['-tjf', archive])).split('\n'), ['vm.xml', 'disk.img']);
    assert.equal(await run('tar', ['-xOjf', archive, 'disk.img']), (await readFile(text, 'utf8')).trimEnd());
  });

  test('leaves no archive behind when a file cannot be read', async () => {
    const archive = dir('broken.tar.bz2');
    await assert.rejects(writeTarBz2(archive, [{ name: 'vm.xml', path: ovf }, { name: 'gone', path: missing() }], MTIME), { code: 'ENOENT' });
    await assertGone(archive);
  });

  test('leaves no archive behind when bzip2 cannot run', async () => {
    const archive = dir('no-bzip2.tar.bz2');
    const saved = process.env.PATH;
    process.env.PATH = dir('no-tools-here');
    try {
      await assert.rejects(writeTarBz2(archive, [{ name: 'vm.xml', path: ovf }], MTIME), /bzip2/);
    } finally {
      process.env.PATH = saved;
    }
    await assertGone(archive);
  });
});
