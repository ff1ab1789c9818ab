/** hyperv: Hyper-V on Windows Server 2012 R2 and later. A dynamic VHDX and an import script (guide: LBVMHYPER-V3v8.zip). */
import path from 'node:path';
import { createVhdxWriter, VHDX_MAX_DISK_SIZE } from '../writers/vhdx.js';
import type { Target, TargetContext } from '../target.js';
import { artifactBase } from './appliance.js';
import { packageHyperv } from './hyperv-package.js';
import { targetIds } from './ids.js';

const NAME = 'hyperv';
const base = (ctx: TargetContext) => artifactBase(ctx.recipe, 'LBVMHYPER-V3');
const diskPath = (ctx: TargetContext) => path.join(ctx.dir, `${base(ctx)}.vhdx`);

export const hyperv: Target = {
  name: NAME,
  summary: 'Microsoft Hyper-V, Windows Server 2012 R2+: dynamic VHDX with a PowerShell import script (Generation 1), as .zip',
  maxDiskSize: VHDX_MAX_DISK_SIZE,
  disks: (ctx) => [
    {
      path: diskPath(ctx),
      create: (options) => createVhdxWriter({ ...options, uniqueId: targetIds(ctx.recipe, NAME).uniqueId('disk') }),
    },
  ],
  package: (ctx) => packageHyperv(ctx, NAME, base(ctx), diskPath(ctx)),
};
