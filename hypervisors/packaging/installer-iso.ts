/**
 * The installer of a physical model: one hybrid ISO that boots from a CD or a USB stick,
 * with BIOS or UEFI, into a small Linux (the appliance's kernel, an initramfs with busybox
 * and overlays/installer/init) that writes the factory image to an internal disk, reads it
 * back against its sha256 and reboots into it. Made without root, loop devices or mounts;
 * the same job gives the same bytes. The parts are in ./installer/.
 */
import type { HostTool } from '../../builder/tools.js';
import { buildInstallerIso } from './installer/build.js';

export interface InstallerJob {
  /** The factory image: the raw disk, xz-compressed (xz --check=crc32, so busybox's unxz reads it). */
  image: string;
  /** Its file name on the medium, e.g. LBHW-R20-v8.0.img.xz. */
  imageName: string;
  /** Bytes and sha256 of the raw disk the image holds: what the installer writes and verifies. */
  diskBytes: number;
  diskSha256: string;
  /** e.g. "Loadbalancer.org Enterprise R20 v8.0", shown in the GRUB menu and by the installer. */
  title: string;
  /** ISO 9660 volume id, e.g. "LBHW_R20_8_0" (A-Z, 0-9, _; at most 32 characters); the installer finds its own medium by it. */
  volumeId: string;
  /** The appliance's configured root tree: /boot/vmlinuz-<kernelVersion>, /lib/modules/<kernelVersion>, /usr/lib/grub/{i386-pc,x86_64-efi}. */
  root: string;
  kernelVersion: string;
  /** Serial console of the model, e.g. { port: 'ttyS0', baud: 115200 }; the VGA console (tty0) is always there too. */
  serialConsole: { port: string; baud: number };
  /** SOURCE_DATE_EPOCH: every timestamp in the ISO. */
  epoch: number;
}

/** Writes the ISO at isoPath (removed again if anything fails); returns isoPath. */
export async function writeInstallerIso(isoPath: string, job: InstallerJob): Promise<string> {
  return buildInstallerIso(isoPath, job);
}

/** Host tools it runs (for the plan's tool check), as keys of DEBIAN_PACKAGE_OF in builder/tools.ts. */
export const INSTALLER_TOOLS: HostTool[] = ['grub-mkimage', 'mkfs.fat', 'mcopy', 'busybox', 'xorriso'];
