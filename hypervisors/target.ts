/**
 * A target is a short declaration: which disk images it needs (each made by a shared
 * writer during the one read of the raw disk) and how they are packaged into the
 * artifacts a hypervisor's user receives.
 */
import type { Recipe } from '../builder/recipe/schema.js';
import type { DiskImageWriter, DiskImageWriterOptions } from './writers/types.js';
import type { FanOutResult } from './writers/fanout.js';

export interface TargetContext {
  recipe: Recipe;
  /** SOURCE_DATE_EPOCH of the build. */
  epoch: number;
  /** This target's own empty working folder; artifacts are created in it. */
  dir: string;
  diskSize: number;
}

export interface DiskSpec {
  /** Path of the disk image, inside the target's folder. */
  path: string;
  create(options: DiskImageWriterOptions): Promise<DiskImageWriter> | DiskImageWriter;
}

export interface Target {
  name: string;
  summary: string;
  /** Largest virtual disk the target's format allows, if limited. */
  maxDiskSize?: number;
  disks(ctx: TargetContext): DiskSpec[];
  /** Makes the artifacts from the written disks; returns their paths (inside ctx.dir). */
  package(ctx: TargetContext, written: FanOutResult): Promise<string[]>;
}

/** The version as artifact names show it: "8.0" → "v8". */
export const shortVersion = (recipe: Recipe) => `v${recipe.version.split('.')[0]}`;
