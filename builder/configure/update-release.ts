/**
 * What lb-update in the image knows of itself: the product, version and model a bundle
 * must match (/usr/lib/loadbalancer/update/release, NAME=VALUE lines as a bundle's
 * manifest has them), and the public key its signature must verify with, when the build
 * has one. Both belong to the root slot, so an update brings its own.
 */
import { writeImageFile } from '../rootdir.js';
import type { Recipe } from '../recipe/schema.js';
import { updateModel } from '../update/manifest.js';

export const UPDATE_RELEASE = '/usr/lib/loadbalancer/update/release';
export const UPDATE_PUBLIC_KEY = '/usr/lib/loadbalancer/update/signing-key.pem';

export async function writeUpdateRelease(root: string, recipe: Recipe, publicKeyPem: string | undefined): Promise<void> {
  await writeImageFile(root, UPDATE_RELEASE, `product=${recipe.name}\nversion=${recipe.version}\nmodel=${updateModel(recipe)}\n`);
  if (publicKeyPem !== undefined) await writeImageFile(root, UPDATE_PUBLIC_KEY, publicKeyPem);
}
