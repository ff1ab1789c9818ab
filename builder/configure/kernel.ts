/** The built kernel goes in as files (no package), with its module index made in the image. */
import { run } from '../exec.js';
import type { BuiltKernel } from '../stages/kernel.js';
import { inChroot, type StepContext } from './chroot.js';

export async function installKernel(root: string, kernel: BuiltKernel, ctx: StepContext): Promise<void> {
  await run('tar', ['-C', root, '-xf', kernel.tarball, '--numeric-owner', '--keep-directory-symlink'], { signal: ctx.signal });
  await inChroot(root, ctx, ['depmod', '-a', kernel.release]);
}
