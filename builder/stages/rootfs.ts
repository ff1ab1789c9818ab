/** Stage rootfs: the base distribution with the recipe's packages, as a tarball. */
import path from 'node:path';
import { toolVersions } from '../tools.js';
import { planStage, type PlanContext, type PlannedStage } from './stage.js';

export interface Rootfs {
  tarball: string;
}

const ROOTFS_TARBALL = 'rootfs.tar';

export async function planRootfs(ctx: PlanContext): Promise<PlannedStage<Rootfs>> {
  const { backend, epoch } = ctx;
  const base = baseWithKernel(ctx);
  return planStage({
    name: 'rootfs',
    version: 1,
    // The mirror's state is an input too; a cached rootfs is reused until the recipe or the epoch changes.
    inputs: {
      settings: { base, epoch, backend: { name: backend.name, version: backend.version, packageNames: backend.packageNames } },
      tools: await toolVersions(backend.tools),
    },
    build: (build, dir) => backend.buildRootfs({ base, epoch, tarball: path.join(dir, ROOTFS_TARBALL), onLine: build.log, signal: build.signal }),
    read: async (dir) => ({ tarball: path.join(dir, ROOTFS_TARBALL) }),
  });
}

/** The base's packages, plus the distribution's kernel unless the kernel stage builds one. */
function baseWithKernel(ctx: PlanContext) {
  const { base, kernel } = ctx.loaded.recipe;
  return kernel.source === 'distro' ? { ...base, packages: [...base.packages, 'kernel'] } : base;
}
