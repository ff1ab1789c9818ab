/**
 * The EFI system partition: FAT made in a file with mkfs.fat, the GRUB loader copied in
 * with mtools at the removable-media path every UEFI firmware looks for. --invariant and
 * copying with preserved times (-m) make it reproducible.
 */
import { copyFile, mkdir, utimes } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../exec.js';

export async function makeEsp(loader: string, image: string, size: number, epoch: number, workDir: string): Promise<void> {
  const tree = path.join(workDir, 'esp');
  const bootDir = path.join(tree, 'EFI', 'BOOT');
  await mkdir(bootDir, { recursive: true });
  await copyFile(loader, path.join(bootDir, 'BOOTX64.EFI'));
  for (const p of [path.join(bootDir, 'BOOTX64.EFI'), bootDir, path.join(tree, 'EFI')]) await utimes(p, epoch, epoch);
  const env = { SOURCE_DATE_EPOCH: String(epoch), MTOOLS_SKIP_CHECK: '1' };
  await run('mkfs.fat', ['-C', '--invariant', '-n', 'ESP', image, String(size / 1024)], { env });
  await run('mcopy', ['-s', '-m', '-i', image, path.join(tree, 'EFI'), '::/'], { env });
}
