/**
 * The update bundle (.lbupdate): a ustar archive of three members, in this order:
 *   manifest      what the bundle is, as text: one NAME=VALUE line for each field below,
 *                 in that order, and nothing else
 *   manifest.sig  the Ed25519 signature of the manifest's bytes (64 bytes)
 *   root.img.gz   the root slot's filesystem image, gzip-compressed
 * lb-update on the appliance checks the signature against the key built into the image,
 * then every field, then the image's sha256, before it writes anything; after writing the
 * slot it reads it back against slot_sha256.
 */
import type { Recipe } from '../recipe/schema.js';

export const BUNDLE_FORMAT = 'lbupdate-1';
export const BUNDLE_MEMBERS = { manifest: 'manifest', signature: 'manifest.sig', image: 'root.img.gz' } as const;

/** What the virtual machine targets run as; a physical model's recipe names its own (model.id). */
export const VIRTUAL_MODEL = 'virtual';

/** The model an image of `recipe` is, and takes bundles for. */
export const updateModel = (recipe: Recipe): string => recipe.model?.id ?? VIRTUAL_MODEL;

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  /** The recipe's name; an appliance takes bundles of its own product only. */
  product: string;
  version: string;
  model: string;
  /** sha256 of the root.img.gz member as stored. */
  image_sha256: string;
  /** Size of the uncompressed image: what is written to the slot. */
  slot_bytes: number;
  /** sha256 of the uncompressed image, to read the written slot back against. */
  slot_sha256: string;
}

const FIELDS = ['format', 'product', 'version', 'model', 'image_sha256', 'slot_bytes', 'slot_sha256'] as const satisfies ReadonlyArray<keyof BundleManifest>;

export function encodeManifest(manifest: BundleManifest): Buffer {
  const lines = FIELDS.map((field) => {
    const value = String(manifest[field]);
    if (/[\n\r]/.test(value)) throw new Error(`update manifest: ${field} holds a line break`);
    return `${field}=${value}\n`;
  });
  return Buffer.from(lines.join(''), 'utf8');
}

/** The manifest's fields from its text; throws naming the first line that is not as encodeManifest writes it. */
export function decodeManifest(text: string): BundleManifest {
  const lines = text.split('\n');
  if (lines.pop() !== '' || lines.length !== FIELDS.length) throw new Error(`update manifest: expected ${FIELDS.length} lines, each ending in a newline`);
  const values: Record<string, string> = {};
  for (const [index, field] of FIELDS.entries()) {
    const line = lines[index]!;
    if (!line.startsWith(`${field}=`)) throw new Error(`update manifest: line ${index + 1} is not ${field}=…: ${line}`);
    values[field] = line.slice(field.length + 1);
  }
  return { ...values, slot_bytes: Number(values.slot_bytes) } as unknown as BundleManifest;
}
