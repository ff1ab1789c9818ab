/**
 * The EFI system partition: FAT made in a file with mkfs.fat, the GRUB loader copied in
 * with mtools at the removable-media path every UEFI firmware looks for, and GRUB's
 * configuration and environment block in ESP_GRUB_DIR. --invariant and copying with
 * preserved times (-m) make it reproducible.
 */
import { copyFile, mkdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../exec.js';
import { ESP_GRUB_DIR } from './grub.js';

export interface EspContent {
  /** BOOTX64.EFI, for a disk that boots with UEFI. */
  loader?: string;
  /** Files of ESP_GRUB_DIR by name: grub.cfg, grubenv. */
  grub: Record<string, string | Buffer>;
}

export async function makeEsp(content: EspContent, image: string, size: number, epoch: number, workDir: string): Promise<void> {
  const tree = path.join(workDir, 'esp');
  const bootDir = path.join(tree, 'EFI', 'BOOT');
  const grubDir = path.join(tree, ESP_GRUB_DIR);
  await mkdir(bootDir, { recursive: true });
  await mkdir(grubDir);
  const files = Object.keys(content.grub).map((name) => path.join(grubDir, name));
  for (const [name, data] of Object.entries(content.grub)) await writeFile(path.join(grubDir, name), data);
  if (content.loader) {
    await copyFile(content.loader, path.join(bootDir, 'BOOTX64.EFI'));
    files.push(path.join(bootDir, 'BOOTX64.EFI'), bootDir, path.join(tree, 'EFI'));
  }
  for (const p of [...files, grubDir]) await utimes(p, epoch, epoch);
  const env = { SOURCE_DATE_EPOCH: String(epoch), MTOOLS_SKIP_CHECK: '1' };
  await run('mkfs.fat', ['-C', '--invariant', '-n', 'ESP', image, String(size / 1024)], { env });
  await run('mcopy', ['-s', '-m', '-i', image, ...(content.loader ? [path.join(tree, 'EFI')] : []), grubDir, '::/'], { env });
}
