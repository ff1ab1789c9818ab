/**
 * GRUB for both firmwares, installed without grub-install (which wants a block device):
 * - BIOS: boot.img goes into the MBR's code area and core.img into the BIOS boot
 *   partition; we patch the two sector addresses grub-setup would patch.
 * - UEFI: a standalone BOOTX64.EFI for the EFI system partition's fallback path.
 * Both find the EFI system partition by its FAT volume serial and read grub.cfg and
 * grubenv from its ESP_GRUB_DIR; grub.cfg then sources the chosen root slot's slot.cfg.
 * Every module the boot uses is built in, so GRUB reads no module from disk (each read is
 * slow under emulation).
 * Offsets are those of GRUB 2's include/grub/i386/pc/boot.h and diskboot.S.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { run } from '../exec.js';

/** boot.img: LBA of core.img's first sector. */
const BOOT_MACHINE_KERNEL_SECTOR = 0x5c;
/** boot.img: a jump that skips the boot-drive check; grub-setup NOPs it for hard disks. */
const BOOT_MACHINE_DRIVE_CHECK = 0x66;
/** boot.img: the BIOS parameter block area, kept from the existing MBR. */
const BOOT_MACHINE_BPB_START = 0x3;
const BOOT_MACHINE_BPB_END = 0x5a;
/** Code ends where the disk signature and partition table begin. */
const MBR_CODE_SIZE = 440;
/** diskboot.img ends with one blocklist entry {start: u64, len: u16, segment: u16}. */
const BLOCKLIST_START = 512 - 12;

/**
 * Finding the ESP (FAT) and reading the slots (ext4), and what grub.cfg runs: the menu,
 * the serial console, grubenv (loadenv), its conditions (test), the disk's name (regexp),
 * the slot's slot.cfg (source, in configfile), linux.
 */
const CORE_MODULES = [
  'part_gpt', 'fat', 'ext2', 'search', 'search_fs_uuid', 'normal', 'serial', 'terminal', 'loadenv', 'test', 'regexp', 'configfile', 'linux',
];

/** The folder of the ESP that holds grub.cfg and grubenv. */
export const ESP_GRUB_DIR = 'grub';

function earlyConfig(espSerial: string): string {
  return `search --no-floppy --fs-uuid --set=root ${espSerial}\nset prefix=($root)/${ESP_GRUB_DIR}\n`;
}

/** Builds core.img (BIOS) from the image's own GRUB modules. */
export async function makeBiosCore(root: string, espSerial: string, workDir: string): Promise<string> {
  const config = path.join(workDir, 'early-bios.cfg');
  const core = path.join(workDir, 'core.img');
  await writeFile(config, earlyConfig(espSerial));
  await run('grub-mkimage', ['-O', 'i386-pc', '-d', path.join(root, 'usr/lib/grub/i386-pc'), '-c', config,
    '-p', `/${ESP_GRUB_DIR}`, '-o', core, 'biosdisk', ...CORE_MODULES]);
  return core;
}

/** Builds BOOTX64.EFI from the image's own GRUB modules. */
export async function makeEfiLoader(root: string, espSerial: string, workDir: string): Promise<string> {
  const config = path.join(workDir, 'early-efi.cfg');
  const loader = path.join(workDir, 'BOOTX64.EFI');
  await writeFile(config, earlyConfig(espSerial));
  // efi_gop: the kernel gets the firmware's framebuffer, so the screen (tty0) shows the console; without it GRUB boots "in blind mode".
  await run('grub-mkimage', ['-O', 'x86_64-efi', '-d', path.join(root, 'usr/lib/grub/x86_64-efi'), '-c', config,
    '-p', `/${ESP_GRUB_DIR}`, '-o', loader, 'efi_gop', ...CORE_MODULES]);
  return loader;
}

/** The MBR code with the address of core.img, merged over the existing protective MBR. */
export async function patchedBootSector(root: string, existingMbr: Buffer, coreSector: number): Promise<Buffer> {
  const bootImg = await readFile(path.join(root, 'usr/lib/grub/i386-pc/boot.img'));
  const mbr = Buffer.from(existingMbr);
  bootImg.copy(mbr, 0, 0, BOOT_MACHINE_BPB_START);
  bootImg.copy(mbr, BOOT_MACHINE_BPB_END, BOOT_MACHINE_BPB_END, MBR_CODE_SIZE);
  mbr.writeBigUInt64LE(BigInt(coreSector), BOOT_MACHINE_KERNEL_SECTOR);
  mbr[BOOT_MACHINE_DRIVE_CHECK] = 0x90;
  mbr[BOOT_MACHINE_DRIVE_CHECK + 1] = 0x90;
  return mbr;
}

/** core.img with its blocklist pointing at the sectors that follow its first one on disk. */
export async function patchedCore(corePath: string, coreSector: number): Promise<Buffer> {
  const core = await readFile(corePath);
  core.writeBigUInt64LE(BigInt(coreSector + 1), BLOCKLIST_START);
  return core;
}
