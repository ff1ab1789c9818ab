/** The fan-out of one raw disk to the requested targets' writers, then their packaging. */
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Recipe } from '../builder/recipe/schema.js';
import type { UpdateKey } from '../builder/update/signing-key.js';
import type { TargetContext } from './target.js';
import type { BuildableTarget } from './target-builder/build-target.js';
import type { Extent } from '../builder/disk/sparse-copy.js';
import { readRawDisk } from './writers/raw-source.js';
import { writeDiskImages } from './writers/fanout.js';
import type { DiskImageWriter } from './writers/types.js';

export interface TargetsRequest {
  targets: BuildableTarget[];
  recipe: Recipe;
  epoch: number;
  /** The raw disk and the byte ranges holding data in it. */
  rawDisk: string;
  extents?: Extent[];
  diskSize: number;
  /** The update signing key, for targets that sign. */
  updateKey?: UpdateKey;
  /** The configured root tree and its kernel, for the installer. */
  system?: { root: string; kernelVersion: string };
  /** Empty folder in which each target gets its own sub-folder. */
  staging: string;
  log: (line: string) => void;
}

/** Writes every target's disk images in one read of the raw disk, then packages each target. */
export async function buildTargets(request: TargetsRequest): Promise<string[]> {
  const { targets, recipe, epoch, rawDisk, extents, diskSize, updateKey, system, staging, log } = request;
  if ((await stat(rawDisk)).size !== diskSize) throw new Error(`${rawDisk} is not ${diskSize} bytes`);
  const contexts = new Map<BuildableTarget, TargetContext>();
  const writers: DiskImageWriter[] = [];
  try {
    for (const target of targets) {
      const ctx: TargetContext = { recipe, epoch, dir: path.join(staging, target.name), diskSize, updateKey, rawDisk, system };
      await mkdir(ctx.dir);
      contexts.set(target, ctx);
      for (const disk of target.disks(ctx)) writers.push(await disk.create({ path: disk.path, diskSize }));
    }
  } catch (error) {
    await Promise.allSettled(writers.map((w) => w.abort()));
    throw error;
  }
  log(`reading the raw disk once for ${writers.length} disk image(s)`);
  const written = await writeDiskImages(readRawDisk(rawDisk, extents), writers);
  const artifacts: string[] = [];
  for (const target of targets) {
    log(`packaging ${target.name}`);
    artifacts.push(...(await target.package(contexts.get(target)!, written)));
  }
  return artifacts;
}
