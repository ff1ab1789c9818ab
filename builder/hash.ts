/**
 * Hashes of structured values, and UUIDs derived from hashes: the same input
 * always gives the same key or identifier, so builds are reproducible.
 */
import { createHash } from 'node:crypto';

/** JSON with object keys sorted and undefined members left out, so equal values render alike. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** sha256 hex of a text, for key inputs that are files' contents or secrets. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** sha256 hex over the canonical JSON of `inputs`, so equal inputs give equal keys. */
export function hashInputs(inputs: unknown): string {
  return createHash('sha256').update(canonicalJson(inputs)).digest('hex');
}

/** An RFC 4122 UUID made of the first 16 bytes of `digest`, with the version and variant bits set. */
export function uuidFromDigest(digest: Uint8Array, version: 4 | 5): string {
  const b = Buffer.from(digest.subarray(0, 16));
  b[6] = (b[6]! & 0x0f) | (version << 4);
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A version-4-shaped UUID whose bits come from the sha256 of `seed`. */
export function derivedUuid(seed: string): string {
  return uuidFromDigest(createHash('sha256').update(seed).digest(), 4);
}
