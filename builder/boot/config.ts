/**
 * The boot configuration inside the root filesystem: /etc/fstab, /etc/default/grub
 * and a real /boot/grub/grub.cfg that both the BIOS and the UEFI GRUB read. The root
 * filesystem is found by UUID (by the initramfs), or, for a kernel without an initramfs,
 * by its GPT partition UUID, so the disk boots on any controller a hypervisor offers.
 */
import { derivedUuid } from '../hash.js';
import type { Recipe } from '../recipe/schema.js';

export interface BootConfig {
  kernelVersion: string;
  /** UUID of the ext4 root filesystem, derived from the recipe so builds are reproducible. */
  rootUuid: string;
  /** Volume serial of the EFI system partition (mkfs.fat --invariant always writes this one). */
  espSerial: string;
  cmdline: string[];
  /** Whether the kernel boots with /boot/initrd.img-<kernelVersion>. */
  initramfs: boolean;
}

export const ESP_SERIAL = '1234-ABCD';
export const ROOT_LABEL = 'lbroot';
/** Classic ethN names on every hypervisor's NICs, and the console on both screen and serial port. */
const BASE_CMDLINE = ['ro', 'quiet', 'console=tty0', 'console=ttyS0,115200n8', 'net.ifnames=0', 'biosdevname=0'];
/**
 * An image that runs auditd audits from the first process on: with audit=1 every task is
 * audited from its start and the kernel holds the records made before auditd is up (up to
 * the backlog limit) and hands them to auditd when it registers, instead of dropping them.
 */
const AUDIT_CMDLINE = ['audit=1', 'audit_backlog_limit=8192'];
/**
 * The menu is hidden and not waited for: a headless appliance boots its only entry at once.
 * Esc (or a hotkey) pressed while the firmware hands over to GRUB shows the menu.
 */
const GRUB_TIMEOUT = 0;
/**
 * The EFI system partition is mounted when something opens /boot/efi (a GRUB update),
 * not at boot: a mount at boot holds sysinit.target back until udev has found the
 * partition, seconds under emulation, and nothing the appliance runs reads it.
 */
const ESP_MOUNT_OPTIONS = 'umask=0077,nofail,x-systemd.automount';
const GRUB_TIMEOUT_STYLE = 'hidden';

export function bootFiles(recipe: Recipe, kernelVersion: string, initramfs: boolean): { config: BootConfig; files: Record<string, string> } {
  const config: BootConfig = {
    kernelVersion,
    initramfs,
    rootUuid: derivedUuid(`root:${recipe.name}:${recipe.version}:${recipe.hostname}`),
    espSerial: ESP_SERIAL,
    cmdline: [...BASE_CMDLINE, ...(recipe.base.packages.includes('auditd') ? AUDIT_CMDLINE : []), ...(recipe.kernel.cmdline ?? [])],
  };
  const cmdline = config.cmdline.filter((arg) => arg !== 'ro').join(' ');
  const files = {
    '/etc/fstab':
      `# <file system>\t<mount point>\t<type>\t<options>\t<dump>\t<pass>\n` +
      `UUID=${config.rootUuid}\t/\text4\tdefaults,errors=remount-ro\t0\t1\n` +
      `UUID=${config.espSerial}\t/boot/efi\tvfat\t${ESP_MOUNT_OPTIONS}\t0\t2\n`,
    '/etc/default/grub':
      `# Used by update-grub; keep the serial console and classic interface names.\n` +
      `GRUB_DEFAULT=0\nGRUB_TIMEOUT_STYLE=${GRUB_TIMEOUT_STYLE}\nGRUB_TIMEOUT=${GRUB_TIMEOUT}\nGRUB_DISTRIBUTOR="${recipe.name}"\n` +
      `GRUB_CMDLINE_LINUX_DEFAULT=""\nGRUB_CMDLINE_LINUX="${cmdline}"\n` +
      `GRUB_TERMINAL="console serial"\nGRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"\n`,
    '/boot/grub/grub.cfg': grubCfg(recipe, config),
  };
  return { config, files };
}

function grubCfg(recipe: Recipe, config: BootConfig): string {
  return [
    '# GRUB configuration of the appliance; update-grub regenerates it from /etc/default/grub.',
    'set default=0',
    `set timeout_style=${GRUB_TIMEOUT_STYLE}`,
    `set timeout=${GRUB_TIMEOUT}`,
    'serial --unit=0 --speed=115200',
    'terminal_input console serial',
    'terminal_output console serial',
    // root and prefix are already set: GRUB's core found the root filesystem by its UUID
    // (builder/disk/grub.ts) and has every module this file uses built in.
    `menuentry '${recipe.name} v${recipe.version}' {`,
    `\tlinux /boot/vmlinuz-${config.kernelVersion} ${rootArgument(config)} ${config.cmdline.join(' ')}`,
    ...(config.initramfs ? [`\tinitrd /boot/initrd.img-${config.kernelVersion}`] : []),
    '}',
    '',
  ].join('\n');
}

/** The kernel alone cannot resolve a filesystem UUID; without an initramfs it finds the partition. */
function rootArgument(config: BootConfig): string {
  if (config.initramfs) return `root=UUID=${config.rootUuid}`;
  return `root=PARTUUID=${partitionUuid(config.rootUuid, 'root')} rootfstype=ext4 rootwait`;
}

/** GPT partition UUIDs, derived from the root filesystem's UUID like everything on the disk. */
export function partitionUuid(rootUuid: string, partition: string): string {
  return derivedUuid(`${rootUuid}:${partition}`);
}
