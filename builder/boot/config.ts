/**
 * The boot configuration inside the root filesystem: /etc/fstab, /etc/default/grub,
 * /boot/grub/slot.cfg (what this slot boots) and /boot/grub/grub.cfg, which the disk stage
 * puts on the EFI system partition, where both the BIOS and the UEFI GRUB read it. The
 * kernel finds its root slot by GPT partition UUID (with or without an initramfs), so the
 * disk boots on any controller a hypervisor offers. Nothing in the root filesystem names
 * the slot it is in: an update writes the same filesystem into either slot.
 */
import { derivedUuid } from '../hash.js';
import type { Recipe } from '../recipe/schema.js';
import { diskLayout, partitionUuid } from '../disk/layout.js';
import { grubCfg, slotCfg, GRUB_TIMEOUT, GRUB_TIMEOUT_STYLE } from './grub-cfg.js';
import { SLOTS, slotPartition, type Slot } from './slots.js';

export interface SlotIds {
  /** UUID of the slot's GPT partition (the kernel's root=PARTUUID=). */
  partUuid: string;
}

export interface BootConfig {
  kernelVersion: string;
  /** Seed of every GPT id on the disk (label, partitions); all ids are derived from the recipe so builds are reproducible. */
  diskSeed: string;
  slots: Record<Slot, SlotIds>;
  /** UUID of the root filesystem's ext4 (in slot A of the disk, and in an update bundle). */
  rootFsUuid: string;
  /** UUID of the data partition's ext4 filesystem. */
  dataUuid: string;
  /** Volume serial of the EFI system partition (mkfs.fat --invariant always writes this one). */
  espSerial: string;
  cmdline: string[];
  /** Whether the kernel boots with /boot/initrd.img-<kernelVersion>. */
  initramfs: boolean;
}

export const ESP_SERIAL = '1234-ABCD';
export const ROOT_LABEL = 'lbroot';
export const DATA_LABEL = 'lbdata';
/**
 * Classic ethN names on every hypervisor's NICs, and the console on both screen and serial
 * port. A kernel panic reboots: a root slot on trial that panics is then passed over. The
 * root is mounted read-write from the start: fstab has no line for it, as the slot it is
 * in is known only at boot.
 */
/** The serial console every image has besides VGA; the installer boots with it too. */
export const SERIAL_CONSOLE = { port: 'ttyS0', baud: 115200 };
const BASE_CMDLINE = ['rw', 'rootflags=errors=remount-ro', 'quiet', 'console=tty0', `console=${SERIAL_CONSOLE.port},${SERIAL_CONSOLE.baud}n8`, 'net.ifnames=0', 'biosdevname=0', 'panic=10'];
/**
 * An image that runs auditd audits from the first process on: with audit=1 every task is
 * audited from its start and the kernel holds the records made before auditd is up (up to
 * the backlog limit) and hands them to auditd when it registers, instead of dropping them.
 */
const AUDIT_CMDLINE = ['audit=1', 'audit_backlog_limit=8192'];
/**
 * The EFI system partition is mounted when something opens /boot/efi (lb-slot-health, a
 * GRUB update), not at boot: a mount at boot holds sysinit.target back until udev has
 * found the partition, seconds under emulation, and nothing before the login prompt reads it.
 */
const ESP_MOUNT_OPTIONS = 'umask=0077,nofail,x-systemd.automount';

export function bootFiles(recipe: Recipe, kernelVersion: string, initramfs: boolean): { config: BootConfig; files: Record<string, string> } {
  const id = `${recipe.name}:${recipe.version}:${recipe.hostname}`;
  const diskSeed = derivedUuid(`disk:${id}`);
  const slotIds = (slot: Slot): SlotIds => ({ partUuid: partitionUuid(diskSeed, slotPartition(slot)) });
  const config: BootConfig = {
    kernelVersion,
    initramfs,
    diskSeed,
    slots: Object.fromEntries(SLOTS.map((slot) => [slot, slotIds(slot)])) as Record<Slot, SlotIds>,
    rootFsUuid: derivedUuid(`root:${id}`),
    dataUuid: derivedUuid(`data:${id}`),
    espSerial: ESP_SERIAL,
    cmdline: [...BASE_CMDLINE, ...(recipe.base.packages.includes('auditd') ? AUDIT_CMDLINE : []), ...(recipe.kernel.cmdline ?? [])],
  };
  const cmdline = config.cmdline.filter((arg) => arg !== 'rw').join(' ');
  const files = {
    '/etc/fstab':
      `# <file system>\t<mount point>\t<type>\t<options>\t<dump>\t<pass>\n` +
      `UUID=${config.espSerial}\t/boot/efi\tvfat\t${ESP_MOUNT_OPTIONS}\t0\t2\n`,
    '/etc/default/grub':
      `# Used by update-grub; keep the serial console and classic interface names.\n` +
      `GRUB_DEFAULT=0\nGRUB_TIMEOUT_STYLE=${GRUB_TIMEOUT_STYLE}\nGRUB_TIMEOUT=${GRUB_TIMEOUT}\nGRUB_DISTRIBUTOR="${recipe.name}"\n` +
      `GRUB_CMDLINE_LINUX_DEFAULT=""\nGRUB_CMDLINE_LINUX="${cmdline}"\n` +
      `GRUB_TERMINAL="console serial"\nGRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"\n`,
    '/boot/grub/grub.cfg': grubCfg(recipe.name, config, slotPartitionNumbers(recipe.disk)),
    '/boot/grub/slot.cfg': slotCfg(`${recipe.name} v${recipe.version}`, config),
  };
  return { config, files };
}

/** The slots' GPT partition numbers (GRUB's gptN) in the disk's layout. */
function slotPartitionNumbers(disk: Recipe['disk']): Record<Slot, number> {
  const names = diskLayout(disk).partitions.map((p) => p.name);
  return Object.fromEntries(SLOTS.map((slot) => [slot, names.indexOf(slotPartition(slot)) + 1])) as Record<Slot, number>;
}
