/**
 * What every stage shares: the build context it runs in and the result it hands on.
 * A stage's key hashes its declared inputs, its parent's key and its own code, so a
 * change to any of them re-runs that stage and everything after it, and nothing else.
 */
import { existsSync, readFileSync } from 'node:fs';
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
  return hashInputs({ stage: name, code: sourceHash(moduleUrl), inputs }).slice(0, 32);
}

/**
 * Hash of a module's TypeScript source, whether it runs from source (tsx) or compiled
 * (dist/…/x.js → …/x.ts), so that both share one cache; the compiled file's text would
 * differ and make them build the same stage (the kernel: 20 minutes) twice.
 */
export function sourceHash(moduleUrl: string): string {
  const file = fileURLToPath(moduleUrl);
  const compiled = /^(.*)\/dist\/(.*)\.js$/.exec(file);
  const source = compiled ? `${compiled[1]}/${compiled[2]}.ts` : file;
  return hashInputs(readFileSync(existsSync(source) ? source : file, 'utf8'));
}
