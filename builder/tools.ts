/** Host tools the build runs, each with the Debian package that provides it. */
import { accessSync, constants } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { MissingToolsError } from './errors.js';

export const DEBIAN_PACKAGE_OF = {
  mmdebstrap: 'mmdebstrap',
  tar: 'tar',
  chroot: 'coreutils',
  'dpkg-query': 'dpkg',
  dnf: 'dnf',
  rpm: 'rpm',
  rpmbuild: 'rpm',
  rpmsign: 'rpm',
  createrepo_c: 'createrepo-c',
  gpg: 'gnupg',
  gpgconf: 'gnupg',
  openssl: 'openssl',
  'mke2fs': 'e2fsprogs',
  debugfs: 'e2fsprogs',
  'e2fsck': 'e2fsprogs',
  'mkfs.fat': 'dosfstools',
  mcopy: 'mtools',
  mmd: 'mtools',
  sfdisk: 'fdisk',
  'grub-mkimage': 'grub-common',
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-img': 'qemu-utils',
  lynis: 'lynis',
  bzip2: 'bzip2',
  make: 'make',
  gcc: 'gcc',
  ld: 'binutils',
  bc: 'bc',
  bison: 'bison',
  flex: 'flex',
  perl: 'perl',
  depmod: 'kmod',
  zstd: 'zstd',
  xz: 'xz-utils',
  xorriso: 'xorriso', busybox: 'busybox-static',
} as const;

export type HostTool = keyof typeof DEBIAN_PACKAGE_OF;

const execFileAsync = promisify(execFile);

export function findOnPath(tool: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  for (const dir of dirs) {
    const candidate = path.join(dir, tool);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Throws one error naming every missing tool and the packages to install. */
export function requireTools(tools: Iterable<HostTool>): void {
  const missing = [...new Set(tools)]
    .filter((tool) => !findOnPath(tool))
    .map((tool) => ({ tool, debianPackage: DEBIAN_PACKAGE_OF[tool] }));
  if (missing.length > 0) throw new MissingToolsError(missing);
}

const packageVersions = new Map<string, Promise<string>>();

/**
 * The installed version of the Debian package behind each tool, for stage keys: an
 * upgraded tool re-runs the stages that use it. A tool from outside dpkg counts as "local".
 */
export async function toolVersions(tools: Iterable<HostTool>): Promise<Record<string, string>> {
  const packages = [...new Set([...tools].map((tool) => DEBIAN_PACKAGE_OF[tool]))].sort();
  const entries = await Promise.all(packages.map(async (name) => [name, await packageVersion(name)] as const));
  return Object.fromEntries(entries);
}

function packageVersion(name: string): Promise<string> {
  let version = packageVersions.get(name);
  if (!version) {
    version = execFileAsync('dpkg-query', ['-W', '-f=${Version}', name]).then(
      ({ stdout }) => stdout.trim() || 'local',
      () => 'local',
    );
    packageVersions.set(name, version);
  }
  return version;
}
