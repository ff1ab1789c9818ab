import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { makeLynisBundle } from './lynis-bundle.js';
import { BuildError } from '../errors.js';

const scratch = () => mkdtemp(path.join(tmpdir(), 'lbbuild-lynis-bundle-'));

test("the host's Lynis is bundled as a root-owned tree Lynis runs from (--usecwd), padded for a raw drive", async () => {
  const bundle = await makeLynisBundle(path.join(await scratch(), 'lynis.tar'), 1764028800);
  assert.match(bundle.version, /^\d+\.\d+\.\d+$/);
  assert.equal((await stat(bundle.file)).size % (1024 * 1024), 0, 'whole MiB, so QEMU can attach it as a raw drive');
  const { stdout } = await execa('tar', ['--list', '--verbose', '--numeric-owner', '--file', bundle.file]);
  const entries = stdout.split('\n').map((line) => {
    const [mode = '', owner = '', , , , name = ''] = line.split(/\s+/);
    return { mode, owner, name };
  });
  const names = entries.map((e) => e.name);
  for (const needed of ['lynis/lynis', 'lynis/include/consts', 'lynis/include/functions', 'lynis/db/languages/en', 'lynis/default.prf', 'lynis/plugins/']) {
    assert.ok(names.includes(needed), `${needed} in the bundle`);
  }
  assert.ok(names.every((n) => n.startsWith('lynis/')), 'one top folder');
  assert.deepEqual(entries.filter((e) => e.owner !== '0/0'), [], 'every entry owned by root');
  assert.deepEqual(entries.filter((e) => e.mode[5] === 'w' || e.mode[8] === 'w'), [], 'nothing group- or world-writable (Lynis refuses it)');
});

test('the bundle is reproducible, so the audit stage key does not move between builds', async () => {
  const dir = await scratch();
  const first = await makeLynisBundle(path.join(dir, 'a.tar'), 1764028800);
  const second = await makeLynisBundle(path.join(dir, 'b.tar'), 1764028800);
  assert.equal(first.sha256, second.sha256);
});

test('a host without Lynis is told which Debian package to install', async () => {
  const emptyRoot = await scratch();
  await assert.rejects(
    makeLynisBundle(path.join(emptyRoot, 'lynis.tar'), 1764028800, emptyRoot),
    (error) => error instanceof BuildError && /install the Debian package lynis/.test(error.message),
  );
});
