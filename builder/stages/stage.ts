/**
 * The shape every stage shares. A stage is planned before anything runs: its key hashes
 * what it consumes (input files by content, the recipe values it reads, the versions of
 * the host tools it runs, its parents' keys) and a version number the stage declares and
 * bumps when its behaviour changes. Neither the text of its module nor the path of the
 * checkout is part of the key, so a comment or a refactor keeps every cache entry and two
 * clones share them.
 */
import type { LoadedRecipe } from '../recipe/load.js';
import type { BaseBackend } from '../backends/backend.js';
import type { StageCache } from '../cache.js';
import { hashInputs } from '../hash.js';

export type StageName = 'rootfs' | 'components' | 'kernel' | 'configure' | 'disk' | 'audit';

/** What a stage consumes, as the plan shows it and the key hashes it. */
export interface StageInputs {
  /** Files read, by the name the recipe gives them (project-relative, or a host path) → sha256. */
  files?: Record<string, string>;
  /** The recipe values the stage reads (secrets only as hashes). */
  settings?: unknown;
  /** Debian package → installed version, for each host tool the stage runs. */
  tools?: Record<string, string>;
  /** Parent stage → its key. */
  parents?: Partial<Record<StageName, string>>;
}

/** What planning needs: the recipe and the host, nothing built yet. */
export interface PlanContext {
  loaded: LoadedRecipe;
  backend: BaseBackend;
  /** SOURCE_DATE_EPOCH: every timestamp in the outputs is clamped to it. */
  epoch: number;
  /** The public key (PEM) the image's lb-update checks bundles against, when the build has one. */
  updatePublicKey?: string;
}

export interface BuildContext extends PlanContext {
  cache: StageCache;
  /** Aborted when the build stops (another stage failed, Ctrl-C): every tool and loop gives up. */
  signal: AbortSignal;
  /** Progress output of the running stage (tool output lines). */
  log: (line: string) => void;
}

export interface StageResult<Output = unknown> {
  name: StageName;
  key: string;
  /** The cache entry folder holding the stage's outputs. */
  dir: string;
  cached: boolean;
  output: Output;
}

/** A stage ready to run: `Needs` are the outputs of its parents, which its key already covers. */
export interface PlannedStage<Output, Needs = void> {
  name: StageName;
  version: number;
  key: string;
  inputs: StageInputs;
  /** Builds the cache entry unless it is there, then reads the stage's outputs back. */
  run(ctx: BuildContext, needs: Needs): Promise<StageResult<Output>>;
}

export interface StageDefinition<Output, Needs = void> {
  name: StageName;
  /** Bumped whenever the stage's outputs change for the same inputs. */
  version: number;
  inputs: StageInputs;
  /** Fills the (empty, temporary) entry folder. */
  build(ctx: BuildContext, dir: string, needs: Needs): Promise<void>;
  /** Reads the outputs of a complete entry. */
  read(dir: string): Promise<Output>;
}

export function stageKey(name: StageName, version: number, inputs: StageInputs): string {
  return hashInputs({ stage: name, version, inputs }).slice(0, 32);
}

export function planStage<Output, Needs = void>(definition: StageDefinition<Output, Needs>): PlannedStage<Output, Needs> {
  const { name, version, inputs } = definition;
  const key = stageKey(name, version, inputs);
  return {
    name,
    version,
    key,
    inputs,
    async run(ctx, needs) {
      const entry = await ctx.cache.produce(name, key, (dir) => definition.build(ctx, dir, needs), { signal: ctx.signal, log: ctx.log });
      return { name, key, ...entry, output: await definition.read(entry.dir) };
    },
  };
}
