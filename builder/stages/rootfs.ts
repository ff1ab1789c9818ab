/** Stage rootfs: the base distribution with the recipe's packages, as a tarball. */
import path from 'node:path';
import type { BuildContext, StageResult } from './stage.js';
import { sourceHash, stageKey } from './stage.js';

export const ROOTFS_TARBALL = 'rootfs.tar';

export function rootfsKey(ctx: BuildContext): string {
  const base = baseWithKernel(ctx);
  const backend = { names: ctx.backend.packageNames, code: sourceHash(ctx.backend.moduleUrl) };
  return stageKey('rootfs', import.meta.url, { base, epoch: ctx.epoch, backend });
}

export async function rootfsStage(ctx: BuildContext): Promise<StageResult> {
  const base = baseWithKernel(ctx);
  const key = rootfsKey(ctx);
  const entry = await ctx.cache.produce('rootfs', key, (dir) =>
    ctx.backend.buildRootfs({ base, epoch: ctx.epoch, tarball: path.join(dir, ROOTFS_TARBALL), onLine: ctx.log }),
  );
  return { name: 'rootfs', key, ...entry };
}

/** The base's packages, plus the distribution's kernel unless the kernel stage builds one. */
function baseWithKernel(ctx: BuildContext) {
  const { base, kernel } = ctx.loaded.recipe;
  return kernel.source === 'distro' ? { ...base, packages: [...base.packages, 'kernel'] } : base;
}
