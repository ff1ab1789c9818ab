/** The update bundle as tar, openssl, gzip and sha256sum read it: members in order, a signature that verifies, a manifest that tells the truth. */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { fixedEd25519KeyPem } from '../../builder/test-support.js';
import { decodeManifest } from '../../builder/update/manifest.js';
import { readUpdateKey } from '../../builder/update/signing-key.js';
import { run, useTempDir } from '../writers/test-support.js';
import { writeUpdateBundle } from './lbupdate.js';

const dir = useTempDir('lbbuild-lbupdate-');
const EPOCH = 1764028800;

async function bundle(): Promise<{ file: string; slot: Buffer; publicKey: string }> {
  const keyFile = dir('key.pem');
  await writeFile(keyFile, fixedEd25519KeyPem('lbupdate packaging test'));
  const key = readUpdateKey(keyFile);
  const slot = Buffer.concat([randomBytes(300_000), Buffer.alloc(2 * 1024 * 1024)]);
  await writeFile(dir('root.img.gz'), gzipSync(slot));
  const file = await writeUpdateBundle(dir('out.lbupdate'), {
    image: dir('root.img.gz'),
    product: 'Loadbalancer.org',
    version: '8.0.1',
    model: 'virtual',
    key,
    epoch: EPOCH,
  });
  await writeFile(dir('public.pem'), key.publicKeyPem);
  return { file, slot, publicKey: dir('public.pem') };
}

test('the bundle holds the manifest, its signature and the image, in that order, and openssl verifies the signature', async () => {
  const { file, publicKey } = await bundle();
  assert.equal(await run('tar', ['-tf', file]), 'manifest\nmanifest.sig\nroot.img.gz');
  await run('tar', ['-xf', file, '-C', dir(), 'manifest', 'manifest.sig']);
  await run('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', publicKey, '-rawin', '-in', dir('manifest'), '-sigfile', dir('manifest.sig')]);
  const manifest = await readFile(dir('manifest'));
  manifest[manifest.indexOf('8.0.1')] ^= 1;
  await writeFile(dir('changed'), manifest);
  const changed = await execa('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', publicKey, '-rawin', '-in', dir('changed'), '-sigfile', dir('manifest.sig')], { reject: false });
  assert.notEqual(changed.exitCode, 0, 'a changed manifest does not verify');
});

test("the manifest names the product, version and model, the image's sha256, and the slot's size and sha256", async () => {
  const { file, slot } = await bundle();
  await run('tar', ['-xf', file, '-C', dir(), 'manifest', 'root.img.gz']);
  const manifest = decodeManifest(await readFile(dir('manifest'), 'utf8'));
  const sha256 = async (command: string) => (await execa('sh', ['-c', command], { cwd: dir() })).stdout.split(' ')[0];
  assert.deepEqual(manifest, {
    format: 'lbupdate-1',
    product: 'Loadbalancer.org',
    version: '8.0.1',
    model: 'virtual',
    image_sha256: await sha256('sha256sum root.img.gz'),
    slot_bytes: slot.length,
    slot_sha256: await sha256('gzip -dc root.img.gz | sha256sum'),
  });
});

test('the same image, key and epoch give a bit-identical bundle', async () => {
  const first = await readFile((await bundle()).file);
  const again = await writeUpdateBundle(dir('again.lbupdate'), {
    image: dir('root.img.gz'),
    product: 'Loadbalancer.org',
    version: '8.0.1',
    model: 'virtual',
    key: readUpdateKey(dir('key.pem')),
    epoch: EPOCH,
  });
  assert.ok(first.equals(await readFile(again)));
});

test('the fixed test key is an Ed25519 key, and the same every time', () => {
  const key = createPrivateKey(fixedEd25519KeyPem('a label'));
  assert.equal(key.asymmetricKeyType, 'ed25519');
  assert.equal(fixedEd25519KeyPem('a label'), fixedEd25519KeyPem('a label'));
  assert.notEqual(createPublicKey(key).export({ type: 'spki', format: 'pem' }), createPublicKey(fixedEd25519KeyPem('another')).export({ type: 'spki', format: 'pem' }));
});
