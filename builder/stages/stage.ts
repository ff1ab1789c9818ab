/**
 * What every stage shares: the build context it runs in and the result it hands on.
 * A stage's key hashes its declared inputs, its parent's key and its own code, so a
 * change to any of them re-runs that stage and everything after it, and nothing else.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LoadedRecipe } from '../recipe/load.js';
import type { BaseBackend } from '../backends/backend.js';
import { hashInputs, type StageCache } from '../cache.js';

export interface BuildContext {
  loaded: LoadedRecipe;
  backend: BaseBackend;
  cache: StageCache;
  /** SOURCE_DATE_EPOCH: every timestamp in the outputs is clamped to it. */
  epoch: number;
  /** Progress output of the running stage (tool output lines). */
  log: (line: string) => void;
}

export interface StageResult {
  name: string;
  key: string;
  /** The cache entry folder holding the stage's outputs. */
  dir: string;
  cached: boolean;
}

/** Key of a stage: its inputs plus the source of the module that implements it. */
export function stageKey(name: string, moduleUrl: string, inputs: unknown): string {
  const code = readFileSync(fileURLToPath(moduleUrl), 'utf8');
  return hashInputs({ stage: name, code: hashInputs(code), inputs }).slice(0, 32);
}
