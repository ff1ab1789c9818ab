/** Helpers of the tests: the builder's unit tests and the boot tests. */
import { createHash, createPrivateKey } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * The entries of `dir` once a failed build's background removal (cleanup.ts) is done,
 * waiting up to `seconds` for it: a generous bound, since removing a kernel tree on a busy
 * machine has taken minutes.
 */
export async function entriesAfterRemoval(dir: string, seconds = 300): Promise<string[]> {
  const entries = () => readdir(dir).catch(() => [] as string[]);
  for (let waited = 0; (await entries()).length && waited < seconds * 10; waited++) await delay(100);
  return entries();
}

/**
 * An Ed25519 private key (PKCS#8 PEM) made from `label` alone, so tests sign with the same
 * key every run and the images they build keep their stage keys. For tests only.
 */
export function fixedEd25519KeyPem(label: string): string {
  const seed = createHash('sha256').update(label).digest();
  // PKCS#8 for Ed25519 (RFC 8410): a fixed prefix, then the 32-byte seed.
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }) as string;
}
