/** hyperv-legacy: Hyper-V on Windows Server 2008 R2 and 2012. A dynamic VHD and an import script (guide: LBVMHYPER-Vv8.zip). */
import path from 'node:path';
import { createVhdWriter, VHD_MAX_DISK_SIZE } from '../writers/vhd.js';
import type { Target, TargetContext } from '../target.js';
import { artifactBase } from './appliance.js';
import { packageHyperv } from './hyperv-package.js';
import { targetIds } from './ids.js';

const NAME = 'hyperv-legacy';
const base = (ctx: TargetContext) => artifactBase(ctx.recipe, 'LBVMHYPER-V');
const diskPath = (ctx: TargetContext) => path.join(ctx.dir, `${base(ctx)}.vhd`);

export const hypervLegacy: Target = {
  name: NAME,
  summary: 'Microsoft Hyper-V, Windows Server 2008 R2 and 2012: dynamic VHD with a PowerShell import script, as .zip',
  maxDiskSize: VHD_MAX_DISK_SIZE,
  disks: (ctx) => [
    {
      path: diskPath(ctx),
      create: (options) =>
        createVhdWriter({ ...options, type: 'dynamic', timestamp: ctx.epoch, uniqueId: targetIds(ctx.recipe, NAME).uniqueId('disk') }),
    },
  ],
  package: (ctx) => packageHyperv(ctx, NAME, base(ctx), diskPath(ctx)),
};
