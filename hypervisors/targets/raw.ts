/** raw: the sparse raw disk itself, for physical installs, testing and other tools. */
import path from 'node:path';
import { createRawWriter } from '../writers/raw.js';
import type { Target } from '../target.js';

export const raw: Target = {
  name: 'raw',
  summary: 'sparse raw disk image (BIOS and UEFI bootable)',
  disks: (ctx) => [{ path: path.join(ctx.dir, `Loadbalancer.org_VA_V${ctx.recipe.version}.raw`), create: createRawWriter }],
  package: async (ctx) => [path.join(ctx.dir, `Loadbalancer.org_VA_V${ctx.recipe.version}.raw`)],
};
