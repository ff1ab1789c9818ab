/**
 * Puts the installer medium together: checks the job, makes the initramfs, GRUB's images
 * and the EFI FAT image in a scratch folder, then has xorriso write the ISO. The GRUB step
 * is a parameter so that the medium's tests can build it without a GRUB module tree.
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeEsp } from '../../../builder/disk/esp.js';
import type { InstallerJob } from '../installer-iso.js';
import { removeOnFailure } from '../remove-on-failure.js';
import { grubMenu, makeGrubBoot, MEDIUM, type GrubBoot } from './grub-boot.js';
import { installerModules, writeInitramfs } from './initramfs.js';
import { checkInstallerJob, installerSettings } from './settings.js';
import { writeIso } from './xorriso.js';

const MiB = 1024 * 1024;

export type GrubBootMaker = (root: string, volumeId: string, workDir: string) => Promise<GrubBoot>;

export async function buildInstallerIso(isoPath: string, job: InstallerJob, makeBoot: GrubBootMaker = makeGrubBoot): Promise<string> {
  await checkInstallerJob(job);
  // Beside the ISO: the scratch files are small, and the output's file system has room.
  const work = await mkdtemp(path.join(path.dirname(path.resolve(isoPath)), '.installer-iso-'));
  try {
    await removeOnFailure(isoPath, () => assemble(isoPath, job, makeBoot, work));
    return isoPath;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function assemble(isoPath: string, job: InstallerJob, makeBoot: GrubBootMaker, work: string): Promise<void> {
  const dir = async (name: string) => {
    const made = path.join(work, name);
    await mkdir(made);
    return made;
  };
  const boot = await makeBoot(job.root, job.volumeId, await dir('grub'));
  const espImage = path.join(work, 'esp.img');
  // Room for the loader and the FAT's own tables, in whole MiB.
  const espSize = Math.ceil(((await stat(boot.efiLoader)).size + MiB) / MiB) * MiB;
  await makeEsp({ loader: boot.efiLoader, grub: {} }, espImage, espSize, job.epoch, await dir('esp'));
  const modules = await installerModules(job.root, job.kernelVersion);
  const initramfs = path.join(work, 'initrd.img');
  await writeInitramfs(initramfs, { root: job.root, kernelVersion: job.kernelVersion, settings: installerSettings(job, modules), epoch: job.epoch }, modules);
  const menu = path.join(work, 'grub.cfg');
  await writeFile(menu, grubMenu(job));
  const files = {
    [MEDIUM.menu]: menu,
    [MEDIUM.kernel]: path.join(job.root, 'boot', `vmlinuz-${job.kernelVersion}`),
    [MEDIUM.initramfs]: initramfs,
    [`/${job.imageName}`]: job.image,
  };
  // xorriso would add a session to an ISO already there.
  await rm(isoPath, { force: true });
  await writeIso(isoPath, { volumeId: job.volumeId, files, eltorito: boot.eltorito, hybridMbr: boot.hybridMbr, espImage, epoch: job.epoch, workDir: await dir('xorriso') });
}
