/**
 * The hybrid ISO, written by xorriso's mkisofs emulation in the layout grub-mkrescue and
 * Ubuntu's installers use:
 * - ISO 9660 with Rock Ridge (long names; no Joliet, whose 16-character volume id GRUB
 *   would read instead of the real one), level 3 (files of 4 GiB and more);
 * - El Torito: the BIOS entry (GRUB's eltorito core, no emulation, with GRUB's boot info
 *   patched in) and the UEFI entry, which is the appended FAT partition itself;
 * - the system area: GRUB's boot_hybrid.img as MBR code pointing at the BIOS core (a USB
 *   stick boots on BIOS), a GPT with the ISO as partition 1 (from 64 sectors in, so it
 *   mounts on its own too) and the FAT image appended as the ESP, partition 2 (a stick
 *   boots on UEFI); an MBR partition marked active, which some BIOSes want to boot a stick.
 * Every timestamp, the GPT's GUIDs and the MBR id come from the epoch; no startup file is read.
 */
import { run } from '../../../builder/exec.js';
import { MEDIUM } from './grub-boot.js';

const ESP_TYPE = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const BASIC_DATA_TYPE = 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7';

export interface IsoLayout {
  volumeId: string;
  /** Files of the medium: path on the medium → file on the host. */
  files: Record<string, string>;
  /** Host files of the boot equipment. */
  eltorito: string;
  hybridMbr: string;
  espImage: string;
  epoch: number;
  /** An empty folder: xorriso's working folder and HOME, so no .mkisofsrc or .xorrisorc is found. */
  workDir: string;
}

export async function writeIso(isoPath: string, layout: IsoLayout): Promise<void> {
  const date = isoDate(layout.epoch);
  const files = { ...layout.files, [MEDIUM.eltorito]: layout.eltorito };
  const args = [
    '-no_rc',
    '-as', 'mkisofs',
    '-o', isoPath,
    '-V', layout.volumeId,
    '-iso-level', '3',
    '-r',
    `--modification-date=${date}`,
    '--set_all_file_dates', date,
    '--gpt_disk_guid', 'modification-date',
    '-partition_offset', '16',
    '--grub2-mbr', layout.hybridMbr,
    '--mbr-force-bootable',
    '-append_partition', '2', ESP_TYPE, layout.espImage,
    '-appended_part_as_gpt',
    '-iso_mbr_part_type', BASIC_DATA_TYPE,
    '-c', MEDIUM.catalog,
    '-b', MEDIUM.eltorito, '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', '--grub2-boot-info',
    '-eltorito-alt-boot',
    '-e', '--interval:appended_partition_2:all::', '-no-emul-boot',
    // What GRUB reads first, at the start of the medium (a CD seeks slowly).
    '--sort-weight', '0', '/', '--sort-weight', '1', '/boot',
    '-graft-points',
    ...Object.entries(files).sort(([a], [b]) => a.localeCompare(b)).map(([onMedium, host]) => `${graftPath(onMedium)}=${graftPath(host)}`),
  ];
  await run('xorriso', args, {
    cwd: layout.workDir,
    env: { HOME: layout.workDir, SOURCE_DATE_EPOCH: String(layout.epoch), TZ: 'UTC', MKISOFSRC: '/dev/null' },
  });
}

/** A path in a graft point, where = and \ are escaped by a backslash. */
function graftPath(file: string): string {
  return file.replace(/[\\=]/g, (c) => `\\${c}`);
}

/** YYYYMMDDhhmmsscc in UTC, the form xorriso takes for volume and file dates. */
function isoDate(epoch: number): string {
  const iso = new Date(epoch * 1000).toISOString(); // 2025-11-25T00:00:00.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}00`;
}
