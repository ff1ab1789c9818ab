/**
 * The installer's initramfs, an uncompressed newc cpio (the kernel unpacks it as is; no
 * compressor's version can change its bytes): overlays/installer/init as /init, the
 * build host's busybox-static with a link per applet, the settings file, and the kernel
 * modules the installer loads (usb-storage and what it depends on), taken from the
 * appliance's own tree, so they carry that kernel build's signatures.
 */
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { run } from '../../../builder/exec.js';
import { BuildError } from '../../../builder/errors.js';
import { findOnPath, requireTools } from '../../../builder/tools.js';
import { newcCpio, type CpioEntry } from './newc-cpio.js';
import { SETTINGS_FILE } from './settings.js';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..', ...(import.meta.url.includes('/dist/') ? ['..'] : []));
/** The installer's /init, in the project (not in a recipe: every model's installer runs the same). */
export const INSTALLER_INIT = path.join(PROJECT_ROOT, 'overlays/installer/init');
/** Modules the installer loads, as modules.dep names them: a USB stick is a medium (AHCI, NVMe, virtio and CD drives are built in). */
export const INSTALLER_MODULES = ['kernel/drivers/usb/storage/usb-storage.ko'];
/** Folders the init mounts on or writes to. */
const MOUNT_POINTS = ['dev', 'proc', 'sys', 'tmp', 'medium'];

export interface Initramfs {
  root: string;
  kernelVersion: string;
  /** The settings file's text (settings.ts). */
  settings: string;
  epoch: number;
}

/** Module files to load, in load order (dependencies first), relative to /lib/modules/<version>. */
export async function installerModules(root: string, kernelVersion: string): Promise<string[]> {
  const dir = path.join(root, 'lib/modules', kernelVersion);
  const deps = new Map<string, string[]>();
  for (const line of (await readFile(path.join(dir, 'modules.dep'), 'utf8')).split('\n')) {
    const [module, rest] = line.split(':');
    if (module && rest !== undefined) deps.set(module, rest.trim().split(/\s+/).filter(Boolean));
  }
  const builtin = new Set((await readFile(path.join(dir, 'modules.builtin'), 'utf8')).split('\n'));
  const order: string[] = [];
  const add = (module: string, chain: string[]) => {
    if (order.includes(module)) return;
    if (chain.includes(module)) throw new BuildError(`modules.dep of ${kernelVersion}: ${[...chain, module].join(' → ')} is a cycle`);
    // modules.dep lists a module's dependencies so that the last is loaded first.
    for (const dep of [...(deps.get(module) ?? [])].reverse()) add(dep, [...chain, module]);
    order.push(module);
  };
  for (const module of INSTALLER_MODULES) {
    if (deps.has(module)) add(module, []);
    else if (!builtin.has(module)) throw new BuildError(`kernel ${kernelVersion} has ${module} neither as a module (modules.dep) nor built in (modules.builtin)`);
  }
  return order;
}

/** Writes the initramfs at `file`; `modules` as installerModules gives them. */
export async function writeInitramfs(file: string, job: Initramfs, modules: readonly string[]): Promise<void> {
  requireTools(['busybox']);
  const busybox = findOnPath('busybox')!;
  const busyboxBinary = await readFile(busybox);
  requireStatic(busybox, busyboxBinary);
  const applets = (await run(busybox, ['--list-full'])).split('\n').filter((applet) => applet && applet !== 'bin/busybox' && applet !== 'linuxrc');

  const files: CpioEntry[] = [
    { kind: 'file', name: 'init', mode: 0o755, data: await readFile(INSTALLER_INIT) },
    { kind: 'file', name: 'bin/busybox', mode: 0o755, data: busyboxBinary },
    ...applets.map((name): CpioEntry => ({ kind: 'symlink', name, target: '/bin/busybox' })),
    { kind: 'file', name: SETTINGS_FILE, mode: 0o644, data: Buffer.from(job.settings) },
    // The kernel opens /dev/console for init before anything is mounted.
    { kind: 'char', name: 'dev/console', mode: 0o600, major: 5, minor: 1 },
  ];
  for (const module of modules) {
    const name = path.posix.join('lib/modules', job.kernelVersion, module);
    files.push({ kind: 'file', name, mode: 0o644, data: await readFile(path.join(job.root, name)) });
  }
  const folders = new Set(MOUNT_POINTS);
  for (const { name } of files) {
    for (let dir = path.posix.dirname(name); dir !== '.'; dir = path.posix.dirname(dir)) folders.add(dir);
  }
  // Sorted, a folder comes before the folders in it.
  const entries: CpioEntry[] = [...folders].sort().map((name) => ({ kind: 'dir', name, mode: name === 'tmp' ? 0o1777 : 0o755 }));
  entries.push(...files);
  await pipeline(Readable.from(newcCpio(entries, job.epoch)), createWriteStream(file));
}

/** The initramfs has no libraries: a dynamically linked busybox (Debian's busybox package) would not start. */
function requireStatic(file: string, elf: Buffer): void {
  const ELF64 = 2;
  const LITTLE_ENDIAN = 1;
  const X86_64 = 62;
  const PT_INTERP = 3;
  if (elf.length < 64 || elf.toString('latin1', 0, 4) !== '\x7fELF' || elf[4] !== ELF64 || elf[5] !== LITTLE_ENDIAN || elf.readUInt16LE(18) !== X86_64) {
    throw new BuildError(`${file} is not an x86-64 ELF program; the installer needs Debian's busybox-static`);
  }
  const phoff = Number(elf.readBigUInt64LE(32));
  const phentsize = elf.readUInt16LE(54);
  const phnum = elf.readUInt16LE(56);
  for (let n = 0; n < phnum; n++) {
    const at = phoff + n * phentsize;
    if (at + 4 > elf.length) throw new BuildError(`${file}: its ELF program headers are cut off`);
    if (elf.readUInt32LE(at) === PT_INTERP) throw new BuildError(`${file} is dynamically linked; the installer needs a static busybox (Debian package busybox-static)`);
  }
}
