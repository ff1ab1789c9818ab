/**
 * Stage disk: the bootable raw disk, sparse, made without loop devices or mounts:
 * partition table by sfdisk on the file, each filesystem made in its own file and
 * copied in at its offset (zero blocks skipped), GRUB for BIOS and UEFI. Root slot A
 * holds the configured tree, slot B is left empty (a hole), the data partition is an
 * empty ext4.
 * Output: disk.raw and extents.json (the byte ranges that hold data, for the writers).
 */
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../exec.js';
import { UserError } from '../errors.js';
import { DATA_LABEL, ROOT_LABEL, type BootConfig } from '../boot/config.js';
import { encodeGrubEnv } from '../boot/grubenv.js';
import { initialSlotState } from '../boot/slots.js';
import { diskLayout, partitionNamed, sfdiskScript, MiB, SECTOR, type Partition } from '../disk/layout.js';
import { copyIntoDisk, addExtent, type Extent } from '../disk/sparse-copy.js';
import { ext4SpaceNeeded, makeExt4 } from '../disk/ext4.js';
import { makeEsp } from '../disk/esp.js';
import { makeBiosCore, makeEfiLoader, patchedBootSector, patchedCore } from '../disk/grub.js';
import { toolVersions, type HostTool } from '../tools.js';
import { planStage, type BuildContext, type PlanContext, type PlannedStage } from './stage.js';
import type { Configured } from './configure.js';

export const DISK_TOOLS: HostTool[] = ['mke2fs', 'debugfs', 'mkfs.fat', 'mcopy', 'mmd', 'sfdisk', 'grub-mkimage'];
const DISK_IMAGE = 'disk.raw';
const DISK_EXTENTS = 'extents.json';

export interface Disk {
  image: string;
  /** Byte ranges of the image that hold data; the rest reads as zeros. */
  extents: Extent[];
  size: number;
}

export async function planDisk(ctx: PlanContext, configureKey: string): Promise<PlannedStage<Disk, Configured>> {
  const { disk } = ctx.loaded.recipe;
  const { size, partitions } = diskLayout(disk);
  return planStage<Disk, Configured>({
    name: 'disk',
    version: 5,
    inputs: { parents: { configure: configureKey }, settings: { disk, epoch: ctx.epoch }, tools: await toolVersions(DISK_TOOLS) },
    async build(build, dir, configured) {
      const { root, boot } = configured;
      await refuseTooSmall(root, partitionNamed(partitions, 'root-a'), size, disk.size);
      const work = path.join(dir, 'work');
      await mkdir(work);
      const diskPath = path.join(dir, DISK_IMAGE);
      const file = await open(diskPath, 'w+');
      const extents: Extent[] = [[0, MiB], [size - MiB, MiB]];
      try {
        await file.truncate(size);
        await file.close();
        await run('sfdisk', ['--no-reread', '--no-tell-kernel', diskPath], { input: sfdiskScript(partitions, boot.diskSeed), signal: build.signal });
        const handle = await open(diskPath, 'r+');
        try {
          for (const partition of partitions) {
            build.log(`writing the ${partition.name} partition`);
            extents.push(...(await writePartition(build, handle, partition, root, boot, work)));
          }
        } finally {
          await handle.close();
        }
      } finally {
        await file.close().catch(() => undefined);
        await rm(work, { recursive: true, force: true });
      }
      await writeFile(path.join(dir, DISK_EXTENTS), `${JSON.stringify(mergeExtents(extents))}\n`);
    },
    async read(dir) {
      return { image: path.join(dir, DISK_IMAGE), extents: JSON.parse(await readFile(path.join(dir, DISK_EXTENTS), 'utf8')) as Extent[], size };
    },
  });
}

async function writePartition(
  ctx: BuildContext,
  disk: Awaited<ReturnType<typeof open>>,
  partition: Partition,
  root: string,
  boot: BootConfig,
  work: string,
): Promise<Extent[]> {
  switch (partition.name) {
    case 'bios': {
      const coreSector = partition.offset / SECTOR;
      const core = await patchedCore(await makeBiosCore(root, boot.espSerial, work), coreSector);
      if (core.length > partition.size) throw new Error(`GRUB core.img (${core.length} bytes) does not fit the BIOS boot partition`);
      await disk.write(core, 0, core.length, partition.offset);
      const mbr = Buffer.alloc(SECTOR);
      await disk.read(mbr, 0, SECTOR, 0);
      await disk.write(await patchedBootSector(root, mbr, coreSector), 0, SECTOR, 0);
      return [[partition.offset, core.length]];
    }
    case 'esp': {
      const image = path.join(work, 'esp.img');
      const grub = { 'grub.cfg': await readFile(path.join(root, 'boot/grub/grub.cfg')), grubenv: encodeGrubEnv(initialSlotState(ctx.loaded.recipe.version)) };
      const loader = ctx.loaded.recipe.disk.boot === 'bios' ? undefined : await makeEfiLoader(root, boot.espSerial, work);
      await makeEsp({ loader, grub }, image, partition.size, ctx.epoch, work);
      return copyIntoDisk(disk, partition.offset, image);
    }
    case 'root-a':
      return ext4Partition(ctx, disk, partition, { sourceDir: root, uuid: boot.rootFsUuid, label: ROOT_LABEL }, work);
    case 'root-b':
      // Empty until an update writes it: zeros, which cost nothing in a sparse image.
      return [];
    case 'data': {
      const empty = path.join(work, 'data');
      await mkdir(empty);
      return ext4Partition(ctx, disk, partition, { sourceDir: empty, uuid: boot.dataUuid, label: DATA_LABEL }, work);
    }
  }
}

async function ext4Partition(
  ctx: BuildContext,
  disk: Awaited<ReturnType<typeof open>>,
  partition: Partition,
  fs: { sourceDir: string; uuid: string; label: string },
  work: string,
): Promise<Extent[]> {
  const image = path.join(work, `${partition.name}.img`);
  await makeExt4({ ...fs, image, size: partition.size, epoch: ctx.epoch });
  const extents = await copyIntoDisk(disk, partition.offset, image);
  await rm(image);
  return extents;
}

/** Refuses a tree that does not fit a root slot; both slots must hold it, so the fix counts it twice. */
async function refuseTooSmall(root: string, slot: Partition, diskSize: number, requested: string | number): Promise<void> {
  const needed = await ext4SpaceNeeded(root);
  if (needed > slot.size) {
    const minimumGiB = Math.ceil((diskSize - 2 * slot.size + 2 * needed) / (1024 * MiB));
    throw new UserError(
      `disk.size: ${requested} is too small: the root filesystem needs about ${Math.ceil(needed / MiB)} MiB ` +
        `but each of the two root slots has ${slot.size / MiB} MiB; set disk.size to at least "${minimumGiB}GiB"`,
    );
  }
}

function mergeExtents(extents: Extent[]): Extent[] {
  const merged: Extent[] = [];
  for (const extent of [...extents].sort((a, b) => a[0] - b[0])) {
    const last = merged.at(-1);
    if (last && extent[0] <= last[0] + last[1]) last[1] = Math.max(last[1], extent[0] + extent[1] - last[0]);
    else addExtent(merged, [extent[0], extent[1]]);
  }
  return merged;
}
