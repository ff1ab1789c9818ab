/**
 * The one builder of every target: from a record it makes the disk spec that
 * the read of the raw disk feeds, then, once the disk is written, the
 * descriptor files beside it and the artifacts.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { diskLayout, partitionNamed } from '../../builder/disk/layout.js';
import type { Target, TargetContext } from '../target.js';
import type { FanOutResult } from '../writers/fanout.js';
import type { DiskImageWriter, DiskImageWriterOptions } from '../writers/types.js';
import { applianceVm, fileName } from './appliance-vm.js';
import { writeDescriptorFiles } from './descriptor-files.js';
import { DISK_FORMATS } from './disk-formats.js';
import { targetIds } from './ids.js';
import { writePackage } from './packages.js';

export interface DiskSpec {
  /** Path of the disk image, inside the target's folder. */
  path: string;
  create(options: DiskImageWriterOptions): Promise<DiskImageWriter> | DiskImageWriter;
}

/** A target record with the builder's two steps bound to it, as the registry hands targets out (build-targets.ts and bench/ call them). */
export interface BuildableTarget extends Target {
  disks(ctx: TargetContext): DiskSpec[];
  /** Makes the artifacts from the written disks; returns their paths (inside ctx.dir). */
  package(ctx: TargetContext, written: FanOutResult): Promise<string[]>;
}

export function buildable(target: Target): BuildableTarget {
  return {
    ...target,
    disks: (ctx) => targetDisks(target, ctx),
    package: (ctx, written) => packageTarget(target, ctx, written),
  };
}

function targetDisks(target: Target, ctx: TargetContext): DiskSpec[] {
  const disk = diskPath(target, ctx);
  const vm = applianceVm(ctx.recipe, target.name, { fileName: path.basename(disk), capacityBytes: ctx.diskSize });
  const rootSlot = partitionNamed(diskLayout(ctx.recipe.disk).partitions, 'root-a');
  const job = { target: target.name, ids: targetIds(ctx.recipe, target.name), epoch: ctx.epoch, hardware: target.hardware, vm, rootSlot };
  return [{ path: disk, create: (options) => DISK_FORMATS[target.disk.format].create(options, job) }];
}

async function packageTarget(target: Target, ctx: TargetContext, written: FanOutResult): Promise<string[]> {
  const disk = diskPath(target, ctx);
  const files = [...(await descriptorFiles(target, ctx, disk, written)), disk];
  const storeDisk = DISK_FORMATS[target.disk.format].compressed ?? false;
  const job = {
    dir: ctx.dir,
    files,
    storeDisk,
    epoch: ctx.epoch,
    fileName: (template: string) => fileName(template, ctx.recipe),
    recipe: ctx.recipe,
    updateKey: ctx.updateKey,
    rawDisk: ctx.rawDisk,
    diskSize: ctx.diskSize,
    system: ctx.system,
  };
  const artifacts: string[] = [];
  for (const packaging of target.packaging) artifacts.push(await writePackage(packaging, job));
  return artifacts;
}

/** Writes the target's descriptor beside `disk`, describing the image as written. */
async function descriptorFiles(target: Target, ctx: TargetContext, disk: string, written: FanOutResult): Promise<string[]> {
  if (!target.descriptor) return [];
  const vm = applianceVm(ctx.recipe, target.name, {
    fileName: path.basename(disk),
    capacityBytes: ctx.diskSize,
    populatedBytes: written.allocatedBytes,
    fileSizeBytes: (await stat(disk)).size,
  });
  const job = { dir: ctx.dir, disk, diskFormat: target.disk.format, vm, fileName: (template: string) => fileName(template, ctx.recipe) };
  return writeDescriptorFiles(target.descriptor, job);
}

const diskPath = (target: Target, ctx: TargetContext) => path.join(ctx.dir, fileName(target.disk.file, ctx.recipe));
