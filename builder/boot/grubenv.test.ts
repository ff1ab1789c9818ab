import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { encodeGrubEnv, GRUBENV_SIZE } from './grubenv.js';
import { BuildError } from '../errors.js';

/** What grub-editenv (the host's grub-common) reads from `block`. */
async function editenvList(block: Buffer): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lbbuild-grubenv-'));
  try {
    const file = path.join(dir, 'grubenv');
    await writeFile(file, block);
    return (await execa('grub-editenv', [file, 'list'])).stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('grub-editenv reads back every variable of the block, in order', async () => {
  const block = encodeGrubEnv({ ORDER: 'A B', A_OK: '1', A_TRY: '0', B_OK: '0', B_TRY: '0' });
  assert.equal(block.length, GRUBENV_SIZE);
  assert.equal(block.subarray(-1).toString(), '#', 'padded with #');
  assert.equal(await editenvList(block), 'ORDER=A B\nA_OK=1\nA_TRY=0\nB_OK=0\nB_TRY=0');
});

test('a backslash or newline in a value reads back as it was', async () => {
  const block = encodeGrubEnv({ path: 'a\\b', two: 'one\nline' });
  assert.equal(await editenvList(block), 'path=a\\b\ntwo=one\nline');
});

test('an empty block is only the header and padding', async () => {
  const block = encodeGrubEnv({});
  assert.match(block.toString(), /^# GRUB Environment Block\n#+$/);
  assert.equal(await editenvList(block), '');
});

test('variables that do not fit the 1024 bytes, or a bad name, are refused', () => {
  assert.throws(() => encodeGrubEnv({ big: 'x'.repeat(GRUBENV_SIZE) }), (e: Error) => e instanceof BuildError && /more than the block's 1024/.test(e.message));
  assert.doesNotThrow(() => encodeGrubEnv({ fits: 'x'.repeat(GRUBENV_SIZE - 25 - 6) }));
  assert.throws(() => encodeGrubEnv({ fits: 'x'.repeat(GRUBENV_SIZE - 25 - 5) }), BuildError);
  assert.throws(() => encodeGrubEnv({ 'A=B': '1' }), /"A=B" is not a GRUB variable name/);
});
