/**
 * GRUB for the installer medium, made from the appliance's own GRUB modules (the host has
 * none), as grub-mkrescue would make it but by us, so the bytes depend only on the inputs:
 * - BIOS: an El Torito core (i386-pc-eltorito: cdboot.img and core.img), which a CD drive
 *   loads from the boot catalog and boot_hybrid.img, in the medium's MBR, loads from a USB stick;
 * - UEFI: a standalone BOOTX64.EFI, for the FAT image that is both the El Torito UEFI
 *   entry and the ESP partition of the medium's GPT.
 * Both find the medium by its volume id and read the menu (MENU_PATH) from it. Every module
 * the boot uses is built in: GRUB then reads only the menu, the kernel and the initramfs
 * from the medium (each read is slow under emulation).
 */
import { access, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../../builder/exec.js';
import { BuildError } from '../../../builder/errors.js';
import type { InstallerJob } from '../installer-iso.js';
import { serialUnit } from './settings.js';

/** Paths on the medium. */
export const MEDIUM = {
  prefix: '/boot/grub',
  menu: '/boot/grub/grub.cfg',
  eltorito: '/boot/grub/i386-pc/eltorito.img',
  catalog: '/boot/grub/boot.cat',
  kernel: '/boot/vmlinuz',
  initramfs: '/boot/initrd.img',
} as const;

/**
 * Finding the medium (search by label on the ISO 9660 file system, on a CD, a stick or
 * its partitions), what the menu runs (serial console, terminals, menuentry in normal,
 * linux and initrd).
 */
const CORE_MODULES = ['iso9660', 'part_gpt', 'part_msdos', 'search', 'normal', 'serial', 'terminal', 'linux'];

export interface GrubBoot {
  /** The BIOS El Torito boot image (cdboot.img + core.img). */
  eltorito: string;
  /** The MBR code of the hybrid medium (GRUB's boot_hybrid.img). */
  hybridMbr: string;
  /** BOOTX64.EFI. */
  efiLoader: string;
}

/** Makes the two GRUB images in `workDir`; `root` is the configured root, with usr/lib/grub/{i386-pc,x86_64-efi}. */
export async function makeGrubBoot(root: string, volumeId: string, workDir: string): Promise<GrubBoot> {
  const bios = path.join(root, 'usr/lib/grub/i386-pc');
  const efi = path.join(root, 'usr/lib/grub/x86_64-efi');
  for (const needed of [path.join(bios, 'cdboot.img'), path.join(bios, 'boot_hybrid.img'), path.join(bios, 'kernel.img'), path.join(efi, 'kernel.img')]) {
    await access(needed).catch(() => {
      throw new BuildError(`the appliance's GRUB has no ${path.relative(root, needed)}; the installer is made from its i386-pc and x86_64-efi modules`);
    });
  }
  const config = path.join(workDir, 'early.cfg');
  // The rescue parser runs this (no if, no menuentry): it only points GRUB at the menu on the medium.
  await writeFile(config, `search --no-floppy --label --set=root ${volumeId}\nset prefix=($root)${MEDIUM.prefix}\n`);
  const eltorito = path.join(workDir, 'eltorito.img');
  const efiLoader = path.join(workDir, 'BOOTX64.EFI');
  await run('grub-mkimage', ['-O', 'i386-pc-eltorito', '-d', bios, '-c', config, '-p', MEDIUM.prefix, '-o', eltorito, 'biosdisk', ...CORE_MODULES]);
  // efi_gop: the kernel gets the firmware's framebuffer, so the screen (tty0) shows the installer; without it GRUB boots "in blind mode".
  await run('grub-mkimage', ['-O', 'x86_64-efi', '-d', efi, '-c', config, '-p', MEDIUM.prefix, '-o', efiLoader, 'efi_gop', ...CORE_MODULES]);
  return { eltorito, hybridMbr: path.join(bios, 'boot_hybrid.img'), efiLoader };
}

/** The menu on the medium: install with the installer on the screen, or on the model's serial console. */
export function grubMenu(job: Pick<InstallerJob, 'title' | 'serialConsole'>): string {
  const unit = serialUnit(job.serialConsole);
  const serial = `console=${job.serialConsole.port},${job.serialConsole.baud}n8`;
  // The last console= is /dev/console, where the installer asks; kernel messages go to both.
  const entry = (id: string, label: string, consoles: string) =>
    [`menuentry '${label}' --id ${id} {`, `\tlinux ${MEDIUM.kernel} ${consoles} quiet`, `\tinitrd ${MEDIUM.initramfs}`, '}'].join('\n');
  return [
    `# The installer of ${job.title}: its menu on the screen and on ${job.serialConsole.port}.`,
    `# For an unattended install, add lb.install=/dev/DISK (e.g. lb.install=/dev/sda) to the linux line: e in the menu, then Ctrl-x.`,
    `serial --unit=${unit} --speed=${job.serialConsole.baud}`,
    'terminal_input console serial',
    'terminal_output console serial',
    'set timeout=10',
    // The screen is the default: the menu shows on both consoles, so whoever is on the serial
    // line picks the serial entry, while a person at the machine's screen and keyboard (the
    // usual way to install from a USB stick or CD) needs no key at all.
    '# Default: the installer on the screen and keyboard; on the serial line, choose the second entry.',
    'set default=install-screen',
    '',
    entry('install-screen', `Install ${job.title} (screen and keyboard)`, `${serial} console=tty0`),
    '',
    entry('install-serial', `Install ${job.title} (serial console ${job.serialConsole.port})`, `console=tty0 ${serial}`),
    '',
  ].join('\n');
}
