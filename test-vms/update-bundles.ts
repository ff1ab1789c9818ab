/**
 * Update bundles the update tests make from a built one: a copy with one byte of its image
 * changed, and its image rebundled (as the build bundles it) for another model or with
 * another key. Also the shape of `lb-update status --json`.
 */
import { copyFile, mkdtemp, open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { fixedEd25519KeyPem } from '../builder/test-support.js';
import { readUpdateKey } from '../builder/update/signing-key.js';
import { writeUpdateBundle } from '../hypervisors/packaging/lbupdate.js';
import { decodeManifest } from '../builder/update/manifest.js';
import type { SerialConsole } from '../builder/vm/console.js';

/** The version of the bundles the update tests apply: a recipe extending the one under test, with only its version changed. */
export const NEXT_VERSION = '8.0.1';
/** NEXT_VERSION as a regular expression's text. */
export const NEXT_VERSION_PATTERN = NEXT_VERSION.replaceAll('.', '\\.');
/** Writing and reading back a slot under TCG takes minutes; a refusal takes seconds. */
export const APPLY_TIMEOUT_MS = 15 * 60_000;

export interface SlotStatus {
  booted: string;
  next: string;
  slots: Record<'A' | 'B', { version: string; state: string }>;
}

/**
 * Runs `lb-update apply` on the NEXT_VERSION bundle at `device`, which reboots the appliance
 * into slot B once written; returns the seconds it took to check the bundle and write the slot.
 */
export async function applyNextBundle(serial: SerialConsole, device: string): Promise<number> {
  const started = Date.now();
  serial.sendLine(`lb-update apply ${device}`);
  const verdict = new RegExp(`lb-update: (slot B holds v${NEXT_VERSION_PATTERN} and is tried once at the next boot|.*(nothing was written|stays the one that boots))`);
  const { match } = await serial.expect(verdict, APPLY_TIMEOUT_MS);
  if (!/tried once at the next boot/.test(match[0])) throw new Error(`lb-update apply ${device} did not write slot B: ${match[0]}`);
  return Math.round((Date.now() - started) / 1000);
}

/** A copy of `bundle` in `dir` with one byte of its image changed. */
export async function tamperedBundle(bundle: string, dir: string): Promise<string> {
  const copy = path.join(dir, 'tampered.lbupdate');
  await copyFile(bundle, copy);
  // manifest (header and one block), manifest.sig (header and one block), then the image's header: its data starts at block 5.
  const file = await open(copy, 'r+');
  try {
    const byte = Buffer.alloc(1);
    const at = 5 * 512 + 4096;
    await file.read(byte, 0, 1, at);
    byte[0] ^= 0xff;
    await file.write(byte, 0, 1, at);
  } finally {
    await file.close();
  }
  return copy;
}

/** `bundle`'s image in a new bundle `name` under `dir`, for `model` (else the bundle's) and signed with the fixed key of `keyLabel`. */
export async function rebundled(bundle: string, dir: string, name: string, change: { model?: string; keyLabel: string }): Promise<string> {
  const scratch = await mkdtemp(path.join(dir, `${name}-`));
  await execa('tar', ['-xf', bundle, '-C', scratch, 'manifest', 'root.img.gz']);
  const { product, version, model } = decodeManifest(await readFile(path.join(scratch, 'manifest'), 'utf8'));
  const keyFile = path.join(scratch, 'key.pem');
  await writeFile(keyFile, fixedEd25519KeyPem(change.keyLabel));
  return writeUpdateBundle(path.join(scratch, `${name}.lbupdate`), {
    image: path.join(scratch, 'root.img.gz'),
    product,
    version,
    model: change.model ?? model,
    key: readUpdateKey(keyFile),
    epoch: 0,
  });
}
