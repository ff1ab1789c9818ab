/**
 * Lynis for the guest, taken from the build host's Debian `lynis` package and never
 * installed in the image: one tar (lynis/{lynis,include,db,plugins,default.prf}, the
 * layout Lynis runs from with --usecwd), padded to whole sectors so QEMU can attach it
 * as a raw drive and the guest can read it with `tar -xf /dev/...`.
 */
import { readFile, truncate, stat } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../exec.js';
import { BuildError } from '../errors.js';
import { hashFile } from '../tree-hash.js';

/** Where Debian's lynis package keeps its parts, relative to /. */
const HOST_FILES = {
  program: 'usr/sbin/lynis',
  shared: 'usr/share/lynis',
  profile: 'etc/lynis/default.prf',
  plugins: 'etc/lynis/plugins',
};
const DRIVE_ALIGNMENT = 1024 * 1024;

export interface LynisBundle {
  file: string;
  version: string;
  sha256: string;
}

export async function hostLynisVersion(hostRoot = '/'): Promise<string> {
  const file = path.join(hostRoot, HOST_FILES.program);
  const program = await readFile(file, 'utf8').catch(() => {
    throw new BuildError(`no Lynis on the build host (${file}); install the Debian package lynis`);
  });
  const version = /^\s*PROGRAM_VERSION="([^"]+)"/m.exec(program)?.[1];
  if (!version) throw new BuildError(`cannot tell the version of ${file} (no PROGRAM_VERSION line)`);
  return version;
}

/** Writes the bundle to `file`, reproducibly (sorted, root-owned, times at `epoch`). */
export async function makeLynisBundle(file: string, epoch: number, hostRoot = '/'): Promise<LynisBundle> {
  const version = await hostLynisVersion(hostRoot);
  await run('tar', [
    '--create',
    `--file=${file}`,
    `--directory=${hostRoot}`,
    '--sort=name',
    `--mtime=@${epoch}`,
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    // Lynis refuses include files that others may write.
    '--mode=go-w',
    '--format=gnu',
    `--transform=s,^${HOST_FILES.program}$,lynis/lynis,`,
    `--transform=s,^${HOST_FILES.shared},lynis,`,
    `--transform=s,^${HOST_FILES.profile}$,lynis/default.prf,`,
    `--transform=s,^${HOST_FILES.plugins},lynis/plugins,`,
    HOST_FILES.program,
    `${HOST_FILES.shared}/include`,
    `${HOST_FILES.shared}/db`,
    HOST_FILES.profile,
    HOST_FILES.plugins,
  ]);
  const { size } = await stat(file);
  await truncate(file, Math.ceil(size / DRIVE_ALIGNMENT) * DRIVE_ALIGNMENT);
  return { file, version, sha256: await hashFile(file) };
}
