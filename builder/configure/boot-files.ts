/** fstab, GRUB's configuration and modules in the image, for the kernel it has, so update-grub works there. */
import { cp, mkdir, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BuildError } from '../errors.js';
import { writeImageFile } from '../rootdir.js';
import { bootFiles, type BootConfig } from '../boot/config.js';
import type { Recipe } from '../recipe/schema.js';

export async function writeBootFiles(root: string, recipe: Recipe): Promise<BootConfig> {
  const kernels = (await readdir(path.join(root, 'boot')))
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const kernelVersion = kernels.at(-1);
  if (!kernelVersion) throw new BuildError('configure: no kernel in /boot: the base installed none and no kernel was built');
  const initramfs = existsSync(path.join(root, 'boot', `initrd.img-${kernelVersion}`));
  const { config, files } = bootFiles(recipe, kernelVersion, initramfs);
  for (const [imagePath, content] of Object.entries(files)) await writeImageFile(root, imagePath, content);
  // The distro's GRUB tools expect their modules under /boot/grub, as grub-install leaves them.
  for (const platform of ['i386-pc', 'x86_64-efi']) {
    const modules = path.join(root, 'usr/lib/grub', platform);
    await cp(modules, path.join(root, 'boot/grub', platform), { recursive: true, filter: (src) => !src.endsWith('.image') });
  }
  await mkdir(path.join(root, 'boot/efi'), { recursive: true });
  return config;
}
