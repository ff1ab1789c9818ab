/**
 * The key that signs update bundles: an Ed25519 private key in a PEM file, named by
 * LBBUILD_UPDATE_SIGNING_KEY or else by the recipe's update.signingKey. Its public key is
 * built into the image, whose lb-update accepts only bundles signed with it; an image
 * built without a key accepts none.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { resolveInside } from '../paths.js';
import { UserError } from '../errors.js';
import type { LoadedRecipe } from '../recipe/load.js';

export const UPDATE_KEY_VARIABLE = 'LBBUILD_UPDATE_SIGNING_KEY';

export interface UpdateKey {
  privateKey: KeyObject;
  /** The public key as the image holds it (SubjectPublicKeyInfo PEM). */
  publicKeyPem: string;
}

/** Where the key comes from, if anywhere: the variable, else the recipe (a path inside the project root). */
export function updateKeyFile({ recipe, projectRoot }: LoadedRecipe, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env[UPDATE_KEY_VARIABLE]) return env[UPDATE_KEY_VARIABLE];
  const named = recipe.update?.signingKey;
  return named === undefined ? undefined : resolveInside(projectRoot, path.resolve(projectRoot, named));
}

/** Reads the key; throws a UserError saying what is wrong with the file and how to make one. */
export function readUpdateKey(file: string): UpdateKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(file));
  } catch (error) {
    throw new UserError(`${file} is not a readable private key (${(error as Error).message}); ${HOW_TO_MAKE}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new UserError(`${file} is a ${privateKey.asymmetricKeyType} key, not Ed25519; ${HOW_TO_MAKE}`);
  }
  return { privateKey, publicKeyPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }) as string };
}

const HOW_TO_MAKE = 'make one with: openssl genpkey -algorithm ed25519 -out update-signing-key.pem';

/**
 * The build's key, read and checked (a key the recipe names is checked with the recipe,
 * at its line); refused when a target signs and there is no key.
 */
export function planUpdateKey(
  loaded: LoadedRecipe,
  targets: ReadonlyArray<{ name: string; needsUpdateKey?: boolean }>,
  env: NodeJS.ProcessEnv = process.env,
): UpdateKey | undefined {
  const file = updateKeyFile(loaded, env);
  if (file === undefined) {
    const signing = targets.filter((t) => t.needsUpdateKey).map((t) => t.name);
    if (signing.length) {
      throw new UserError(
        `--target ${signing.join(',')}: update bundles are signed, and this build has no signing key; set ${UPDATE_KEY_VARIABLE} ` +
          `to an Ed25519 private key file or name one in the recipe's update.signingKey (${HOW_TO_MAKE}), or leave the target out`,
      );
    }
    return undefined;
  }
  try {
    return readUpdateKey(file);
  } catch (error) {
    // A key the recipe names was reported at its line already; one the variable names is named by it.
    if (!env[UPDATE_KEY_VARIABLE]) throw error;
    throw new UserError(`${UPDATE_KEY_VARIABLE}: ${(error as Error).message}`);
  }
}
