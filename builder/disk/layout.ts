/**
 * The partition layout of the appliance disk (GPT, 1 MiB aligned):
 *   BIOS boot partition (GRUB core.img)  — when booting with BIOS
 *   EFI system partition (FAT)           — when booting with UEFI
 *   root filesystem (ext4)               — the rest, less 1 MiB for the backup GPT
 */
import { partitionUuid } from '../boot/config.js';
import { derivedUuid } from '../hash.js';
import type { Recipe } from '../recipe/schema.js';
import { UserError } from '../errors.js';

export const SECTOR = 512;
export const MiB = 1024 * 1024;

export interface Partition {
  name: 'bios' | 'esp' | 'root';
  /** GPT partition type GUID. */
  type: string;
  offset: number;
  size: number;
}

const TYPES = {
  bios: '21686148-6449-6E6F-744E-656564454649',
  esp: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  root: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
} as const;

const BIOS_BOOT_SIZE = 1 * MiB;
export const ESP_SIZE = 64 * MiB;

export function parseSize(size: Recipe['disk']['size']): number {
  if (typeof size === 'number') return size;
  const units = { MiB, GiB: 1024 * MiB, TiB: 1024 * 1024 * MiB } as const;
  const match = /^(\d+)(MiB|GiB|TiB)$/.exec(size)!;
  return Number(match[1]) * units[match[2] as keyof typeof units];
}

export function diskLayout(disk: Recipe['disk']): { size: number; partitions: Partition[] } {
  const size = parseSize(disk.size);
  if (size % MiB !== 0) throw new UserError(`disk.size: ${size} bytes is not a whole number of MiB; use e.g. "2GiB"`);
  const partitions: Partition[] = [];
  let offset = MiB;
  const add = (name: Partition['name'], length: number) => {
    partitions.push({ name, type: TYPES[name], offset, size: length });
    offset += length;
  };
  if (disk.boot !== 'uefi') add('bios', BIOS_BOOT_SIZE);
  if (disk.boot !== 'bios') add('esp', ESP_SIZE);
  const rootSize = size - MiB - offset;
  if (rootSize < 64 * MiB) throw new UserError(`disk.size: ${disk.size} leaves no room for the root filesystem; use at least 1GiB`);
  add('root', rootSize);
  return { size, partitions };
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
