/**
 * The partition layout of the appliance disk (GPT, 1 MiB aligned), in this order:
 *   bios    BIOS boot partition (GRUB core.img), when booting with BIOS
 *   esp     EFI system partition (FAT): BOOTX64.EFI, and GRUB's grub.cfg and grubenv for
 *           both firmwares, so it is there for a BIOS-only disk too
 *   root-a  root slot A (ext4): the image's root filesystem
 *   root-b  root slot B, the same size, empty (all zeros: no data in the image)
 *   data    persistent data (ext4) of disk.dataSize, at the end less 1 MiB for the backup GPT
 */
import { derivedUuid } from '../hash.js';
import type { Recipe } from '../recipe/schema.js';
import { UserError } from '../errors.js';

export const SECTOR = 512;
export const MiB = 1024 * 1024;

export interface Partition {
  name: PartitionName;
  /** GPT partition type GUID. */
  type: string;
  offset: number;
  size: number;
}

export type PartitionName = 'bios' | 'esp' | 'root-a' | 'root-b' | 'data';

const LINUX_FILESYSTEM = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';
const TYPES: Record<PartitionName, string> = {
  bios: '21686148-6449-6E6F-744E-656564454649',
  esp: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  'root-a': LINUX_FILESYSTEM,
  'root-b': LINUX_FILESYSTEM,
  data: LINUX_FILESYSTEM,
};

const BIOS_BOOT_SIZE = 1 * MiB;
export const ESP_SIZE = 64 * MiB;
export const DEFAULT_DATA_SIZE = '256MiB';
const MIN_DATA_SIZE = 32 * MiB;
const MIN_SLOT_SIZE = 64 * MiB;

export function parseSize(size: Recipe['disk']['size']): number {
  if (typeof size === 'number') return size;
  const units = { MiB, GiB: 1024 * MiB, TiB: 1024 * 1024 * MiB } as const;
  const match = /^(\d+)(MiB|GiB|TiB)$/.exec(size)!;
  return Number(match[1]) * units[match[2] as keyof typeof units];
}

export interface DiskLayout {
  size: number;
  partitions: Partition[];
}

/** What is wrong with `disk` for a layout: the key (disk.size or disk.dataSize) and the fix. */
export interface LayoutProblem {
  keyPath: ['disk', 'size' | 'dataSize'];
  problem: string;
}

/** The layout of `disk`; throws a UserError naming the key when it has none. */
export function diskLayout(disk: Recipe['disk']): DiskLayout {
  const planned = planLayout(disk);
  if ('problem' in planned) throw new UserError(`${planned.keyPath.join('.')}: ${planned.problem}`);
  return planned;
}

/** The problem diskLayout would throw, for the plan to report at the recipe's line. */
export function diskLayoutProblem(disk: Recipe['disk']): LayoutProblem | undefined {
  const planned = planLayout(disk);
  return 'problem' in planned ? planned : undefined;
}

function planLayout(disk: Recipe['disk']): DiskLayout | LayoutProblem {
  const size = parseSize(disk.size);
  if (size % MiB !== 0) return { keyPath: ['disk', 'size'], problem: `${size} bytes is not a whole number of MiB; use e.g. "2GiB"` };
  const dataSize = parseSize(disk.dataSize ?? DEFAULT_DATA_SIZE);
  if (dataSize % MiB !== 0 || dataSize < MIN_DATA_SIZE) {
    return {
      keyPath: ['disk', 'dataSize'],
      problem: `${disk.dataSize} is not a whole number of MiB of at least ${MIN_DATA_SIZE / MiB} MiB; use e.g. "${DEFAULT_DATA_SIZE}"`,
    };
  }
  const partitions: Partition[] = [];
  let offset = MiB;
  const add = (name: PartitionName, length: number) => {
    partitions.push({ name, type: TYPES[name], offset, size: length });
    offset += length;
  };
  if (disk.boot !== 'uefi') add('bios', BIOS_BOOT_SIZE);
  add('esp', ESP_SIZE);
  const fixed = offset + dataSize + MiB;
  const slotSize = Math.floor((size - fixed) / 2 / MiB) * MiB;
  if (slotSize < MIN_SLOT_SIZE) {
    return {
      keyPath: ['disk', 'size'],
      problem:
        `${disk.size} leaves no room for two root slots of at least ${MIN_SLOT_SIZE / MiB} MiB beside the boot partitions and ` +
        `the data partition (disk.dataSize ${disk.dataSize ?? DEFAULT_DATA_SIZE}); set disk.size to at least ` +
        `"${Math.ceil((fixed + 2 * MIN_SLOT_SIZE) / MiB)}MiB", or make disk.dataSize smaller`,
    };
  }
  add('root-a', slotSize);
  add('root-b', slotSize);
  // When the slots' share is an odd number of MiB, its last MiB stays unused before the data partition.
  offset = size - MiB - dataSize;
  add('data', dataSize);
  return { size, partitions };
}

/** The partition called `name`; the layout always has both slots, the ESP and the data partition. */
export function partitionNamed(partitions: Partition[], name: PartitionName): Partition {
  const partition = partitions.find((p) => p.name === name);
  if (!partition) throw new Error(`the disk layout has no ${name} partition`);
  return partition;
}

/** The sfdisk script for the layout; every GUID is derived from `seed`, so the table is reproducible. */
export function sfdiskScript(partitions: Partition[], seed: string): string {
  const lines = ['label: gpt', `label-id: ${derivedUuid(`${seed}:disk`)}`, 'unit: sectors', ''];
  for (const p of partitions) {
    lines.push(
      `start=${p.offset / SECTOR}, size=${p.size / SECTOR}, type=${p.type}, uuid=${partitionUuid(seed, p.name)}, name="${p.name}"`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** GPT partition UUIDs, derived from the disk's seed like every id on the disk. */
export function partitionUuid(diskSeed: string, partition: string): string {
  return derivedUuid(`${diskSeed}:${partition}`);
}
