/** Packs a target's files (its descriptor's, then its disk) into one artifact. */
import path from 'node:path';
import { writeOva } from '../packaging/ova.js';
import { writeTarBz2 } from '../packaging/tar-bz2.js';
import { inFolder, writeZip } from '../packaging/zip.js';
import { writeUpdateBundle } from '../packaging/lbupdate.js';
import { writeRawXz } from '../packaging/raw-xz.js';
import { writeInstallerIso } from '../packaging/installer-iso.js';
import { updateModel } from '../../builder/update/manifest.js';
import { hashFile } from '../../builder/tree-hash.js';
import { SERIAL_CONSOLE } from '../../builder/boot/config.js';
import type { UpdateKey } from '../../builder/update/signing-key.js';
import type { Recipe } from '../../builder/recipe/schema.js';
import type { NameTemplate, Packaging } from '../target.js';

export interface PackageJob {
  /** The target's folder, where the artifact is written. */
  dir: string;
  /** The files to pack, in order; the last is the disk. */
  files: readonly string[];
  /** Store the disk in a zip as it is: it is compressed already. */
  storeDisk: boolean;
  epoch: number;
  fileName: (template: NameTemplate) => string;
  recipe: Recipe;
  /** The update signing key, for packaging that signs. */
  updateKey: UpdateKey | undefined;
  /** The raw disk, for packaging that takes it whole. */
  rawDisk: string;
  diskSize: number;
  /** The configured root tree and its kernel, which the installer boots. */
  system: { root: string; kernelVersion: string } | undefined;
}

/** Writes the artifact `packaging` describes; returns its path. */
export async function writePackage(packaging: Packaging, job: PackageJob): Promise<string> {
  const { dir, files, epoch, fileName } = job;
  const disk = files.at(-1)!;
  switch (packaging.kind) {
    case 'disk':
      return disk;
    case 'zip': {
      const folder = packaging.folder && fileName(packaging.folder);
      const entries = files.map((file) => {
        const store = job.storeDisk && file === disk;
        return folder ? inFolder(folder, file, store) : { name: path.basename(file), path: file, store };
      });
      return writeZip(path.join(dir, fileName(packaging.file)), entries, epoch);
    }
    case 'ova':
      return writeOva(path.join(dir, fileName(packaging.file)), files, epoch);
    case 'tar.bz2': {
      const members = files.map((file) => ({ name: path.basename(file), path: file }));
      return writeTarBz2(path.join(dir, fileName(packaging.file)), members, epoch);
    }
    case 'lbupdate': {
      // The plan refuses a target that signs when the build has no key.
      if (!job.updateKey) throw new Error('an update bundle needs the update signing key');
      const { name: product, version } = job.recipe;
      return writeUpdateBundle(path.join(dir, fileName(packaging.file)), { image: disk, product, version, model: updateModel(job.recipe), key: job.updateKey, epoch });
    }
    case 'raw-xz':
      return writeRawXz(path.join(dir, fileName(packaging.file)), job.rawDisk);
    case 'installer-iso': {
      const { recipe, system } = job;
      if (!system) throw new Error('an installer needs the configured root tree and its kernel');
      const imageName = fileName(packaging.image);
      return writeInstallerIso(path.join(dir, fileName(packaging.file)), {
        image: path.join(dir, imageName),
        imageName,
        diskBytes: job.diskSize,
        diskSha256: await hashFile(job.rawDisk),
        title: `${recipe.name} v${recipe.version}`,
        volumeId: `${recipe.model?.product ?? 'LB'}_${recipe.version}`.toUpperCase().replace(/[^A-Z0-9]/g, '_'),
        root: system.root,
        kernelVersion: system.kernelVersion,
        serialConsole: SERIAL_CONSOLE,
        epoch,
      });
    }
  }
}
