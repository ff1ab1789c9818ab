/**
 * Identifiers inside the images (VM UUIDs, VHD/VHDX unique ids, VMDK content
 * ids): the same on every build of one recipe, so builds are reproducible, and
 * different for every target and recipe, so no two images share an identity.
 */
import { createHash } from 'node:crypto';
import { hashInputs, uuidFromDigest } from '../../builder/hash.js';
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
  const recipeHash = hashInputs(recipe);
  const bytes = (label: string) => createHash('sha256').update(`${recipeHash}\0${target}\0${label}`).digest();
  return {
    uuid: (label) => uuidFromDigest(bytes(label), 4),
    uniqueId: (label) => bytes(label).subarray(0, 16),
    cid: (label) => bytes(label).readUInt32BE(0),
  };
}
