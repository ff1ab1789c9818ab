/** Build-time hooks an overlay ships in /usr/lib/lbbuild/configure.d: each runs once in the image, then all are removed. */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { inChroot, type StepContext } from './chroot.js';

const HOOKS_DIR = 'usr/lib/lbbuild/configure.d';

export async function runHooks(root: string, ctx: StepContext): Promise<void> {
  const hooks = (await readdir(path.join(root, HOOKS_DIR)).catch(() => [] as string[])).sort();
  for (const hook of hooks) await inChroot(root, ctx, [`/${HOOKS_DIR}/${hook}`]);
  await rm(path.join(root, 'usr/lib/lbbuild'), { recursive: true, force: true });
}
