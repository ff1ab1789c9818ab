/**
 * Stage disk: the bootable raw disk, sparse, made without loop devices or mounts:
 * partition table by sfdisk on the file, each filesystem made in its own file and
 * copied in at its offset (zero blocks skipped), GRUB for BIOS and UEFI.
 * Output: disk.raw and extents.json (the byte ranges that hold data, for the writers).
 */
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../exec.js';
import { UserError } from '../errors.js';
import { ROOT_LABEL, type BootConfig } from '../boot/config.js';
import { diskLayout, sfdiskScript, MiB, SECTOR, type Partition } from '../disk/layout.js';
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
    version: 2,
    inputs: { parents: { configure: configureKey }, settings: { disk, epoch: ctx.epoch }, tools: await toolVersions(DISK_TOOLS) },
    async build(build, dir, configured) {
      const { root, boot } = configured;
      const rootPartition = partitions.find((p) => p.name === 'root')!;
      await refuseTooSmall(root, rootPartition, disk.size);
      const work = path.join(dir, 'work');
      await mkdir(work);
      const diskPath = path.join(dir, DISK_IMAGE);
      const file = await open(diskPath, 'w+');
      const extents: Extent[] = [[0, MiB], [size - MiB, MiB]];
      try {
        await file.truncate(size);
        await file.close();
        await run('sfdisk', ['--no-reread', '--no-tell-kernel', diskPath], { input: sfdiskScript(partitions, boot.rootUuid), signal: build.signal });
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
      const core = await patchedCore(await makeBiosCore(root, boot.rootUuid, work), coreSector);
      if (core.length > partition.size) throw new Error(`GRUB core.img (${core.length} bytes) does not fit the BIOS boot partition`);
      await disk.write(core, 0, core.length, partition.offset);
      const mbr = Buffer.alloc(SECTOR);
      await disk.read(mbr, 0, SECTOR, 0);
      await disk.write(await patchedBootSector(root, mbr, coreSector), 0, SECTOR, 0);
      return [[partition.offset, core.length]];
    }
    case 'esp': {
      const image = path.join(work, 'esp.img');
      await makeEsp(await makeEfiLoader(root, boot.rootUuid, work), image, partition.size, ctx.epoch, work);
      return copyIntoDisk(disk, partition.offset, image);
    }
    case 'root': {
      const image = path.join(work, 'root.img');
      await makeExt4({ sourceDir: root, image, size: partition.size, uuid: boot.rootUuid, label: ROOT_LABEL, epoch: ctx.epoch });
      const extents = await copyIntoDisk(disk, partition.offset, image);
      await rm(image);
      return extents;
    }
  }
}

async function refuseTooSmall(root: string, partition: Partition, requested: string | number): Promise<void> {
  const needed = await ext4SpaceNeeded(root);
  if (needed > partition.size) {
    const minimumGiB = Math.ceil((needed + (partition.offset + MiB)) / (1024 * MiB));
    throw new UserError(
      `disk.size: ${requested} is too small: the root filesystem needs about ${Math.ceil(needed / MiB)} MiB ` +
        `but its partition has ${partition.size / MiB} MiB; set disk.size to at least "${minimumGiB}GiB"`,
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
