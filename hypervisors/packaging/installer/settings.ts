/**
 * What the installer is told: the job checked value by value, and the settings file
 * (/etc/lbinstall.conf in the initramfs, NAME=VALUE lines) that overlays/installer/init
 * reads, and checks again, without running it as shell code.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../../../builder/errors.js';
import type { InstallerJob } from '../installer-iso.js';

/** Where the settings file is in the initramfs. */
export const SETTINGS_FILE = 'etc/lbinstall.conf';

/** ISO 9660 volume ids are d-characters; 32 is the field's width in the volume descriptor. */
const VOLUME_ID_MAX = 32;
const BAUD_RATES = [9600, 19200, 38400, 57600, 115200];
/** Shown in GRUB's menu (inside single quotes) and by the installer: no quotes, $, \ or backticks. */
const TITLE = /^[A-Za-z0-9][A-Za-z0-9 .,:()+_/-]{0,79}$/;
const IMAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,196}\.xz$/;
const KERNEL_VERSION = /^[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}$/;
const SERIAL_PORT = /^ttyS([0-9]|[1-9][0-9])$/;
const SHA256 = /^[0-9a-f]{64}$/;

/** A bad value in an installer job; `field` names it as the job spells it. */
export class InstallerJobError extends UserError {
  override name = 'InstallerJobError';
  constructor(
    readonly field: string,
    readonly value: unknown,
    problem: string,
  ) {
    super(`installer ${field} ${JSON.stringify(value)}: ${problem}`);
  }
}

export function checkVolumeId(volumeId: string): void {
  if (volumeId.length === 0) throw new InstallerJobError('volumeId', volumeId, 'is empty; an ISO 9660 volume id has 1 to 32 characters');
  if (volumeId.length > VOLUME_ID_MAX) {
    throw new InstallerJobError('volumeId', volumeId, `has ${volumeId.length} characters; an ISO 9660 volume id has at most ${VOLUME_ID_MAX}`);
  }
  const bad = /[^A-Z0-9_]/.exec(volumeId);
  if (bad) {
    throw new InstallerJobError('volumeId', volumeId, `has ${JSON.stringify(bad[0])} at position ${bad.index + 1}; an ISO 9660 volume id has only A-Z, 0-9 and _`);
  }
}

/** The serial console's GRUB unit (ttyS<unit>); throws unless port and baud are ones GRUB and Linux both take. */
export function serialUnit(serialConsole: InstallerJob['serialConsole']): number {
  const port = SERIAL_PORT.exec(serialConsole.port);
  if (!port) throw new InstallerJobError('serialConsole.port', serialConsole.port, 'is not a serial port name ttyS0 to ttyS99');
  if (!BAUD_RATES.includes(serialConsole.baud)) {
    throw new InstallerJobError('serialConsole.baud', serialConsole.baud, `is not one of ${BAUD_RATES.join(', ')}`);
  }
  return Number(port[1]);
}

/** Checks every value of the job and that its files are there; nothing is written. */
export async function checkInstallerJob(job: InstallerJob): Promise<void> {
  checkVolumeId(job.volumeId);
  serialUnit(job.serialConsole);
  if (!TITLE.test(job.title)) {
    throw new InstallerJobError('title', job.title, 'must be 1 to 80 letters, digits, spaces and . , : ( ) + _ / - (it is shown inside quotes by GRUB)');
  }
  if (!IMAGE_NAME.test(job.imageName)) {
    throw new InstallerJobError('imageName', job.imageName, 'must be a file name of letters, digits and . _ + - ending in .xz, at most 200 characters');
  }
  if (!Number.isSafeInteger(job.diskBytes) || job.diskBytes <= 0 || job.diskBytes % 512 !== 0) {
    throw new InstallerJobError('diskBytes', job.diskBytes, 'must be a positive whole number of 512-byte sectors');
  }
  if (!SHA256.test(job.diskSha256)) throw new InstallerJobError('diskSha256', job.diskSha256, 'must be 64 lower-case hex digits');
  if (!KERNEL_VERSION.test(job.kernelVersion)) throw new InstallerJobError('kernelVersion', job.kernelVersion, 'is not a kernel release name');
  // 2^32 - 1: the newc cpio mtime field; ISO 9660 dates reach further.
  if (!Number.isSafeInteger(job.epoch) || job.epoch < 0 || job.epoch > 0xffffffff) {
    throw new InstallerJobError('epoch', job.epoch, 'must be whole seconds from 0 to 4294967295');
  }
  await requireFile('image', job.image);
  await requireFile('root', path.join(job.root, 'boot', `vmlinuz-${job.kernelVersion}`));
  const modules = path.join(job.root, 'lib/modules', job.kernelVersion);
  if (!(await stat(modules).catch(() => undefined))?.isDirectory()) {
    throw new InstallerJobError('root', job.root, `has no ${path.relative(job.root, modules)} for kernel ${job.kernelVersion}`);
  }
}

async function requireFile(field: string, file: string): Promise<void> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new InstallerJobError(field, file, 'is not a file');
}

/** The settings file; `modules` are the kernel modules to load, relative to /lib/modules/<kernelVersion>, in order. */
export function installerSettings(job: InstallerJob, modules: readonly string[]): string {
  for (const module of modules) {
    if (!/^[A-Za-z0-9_/.-]+\.ko$/.test(module) || module.split('/').includes('..')) throw new InstallerJobError('root', job.root, `has a module path the installer cannot take: ${module}`);
  }
  const settings: Record<string, string> = {
    LB_TITLE: job.title,
    LB_VOLUME_ID: job.volumeId,
    LB_IMAGE_NAME: job.imageName,
    LB_DISK_BYTES: String(job.diskBytes),
    LB_DISK_SHA256: job.diskSha256,
    LB_KERNEL_VERSION: job.kernelVersion,
    LB_MODULES: modules.join(' '),
  };
  return Object.entries(settings).map(([name, value]) => `${name}=${value}\n`).join('');
}
