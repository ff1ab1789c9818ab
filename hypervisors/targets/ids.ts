/**
 * Identifiers inside the images (VM UUIDs, VHD/VHDX unique ids, VMDK content
 * ids): the same on every build of one recipe, so builds are reproducible, and
 * different for every target and recipe, so no two images share an identity.
 */
import { createHash } from 'node:crypto';
import type { Recipe } from '../../builder/recipe/schema.js';

export interface TargetIds {
  /** An RFC 4122 UUID (version 4 layout). */
  uuid(label: string): string;
  /** 16 bytes, for the VHD and VHDX unique ids. */
  uniqueId(label: string): Buffer;
  /** A 32-bit VMDK content id. */
  cid(label: string): number;
}

export function targetIds(recipe: Recipe, target: string): TargetIds {
  const recipeHash = createHash('sha256').update(canonicalJson(recipe)).digest('hex');
  const bytes = (label: string) => createHash('sha256').update(`${recipeHash}\0${target}\0${label}`).digest();
  return {
    uuid(label) {
      const b = bytes(label).subarray(0, 16);
      b[6] = (b[6]! & 0x0f) | 0x40;
      b[8] = (b[8]! & 0x3f) | 0x80;
      const hex = b.toString('hex');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    },
    uniqueId: (label) => bytes(label).subarray(0, 16),
    cid: (label) => bytes(label).readUInt32BE(0),
  };
}

/** JSON with object keys sorted, so the hash does not depend on the order a recipe was written in. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([key, v]) => `${JSON.stringify(key)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
