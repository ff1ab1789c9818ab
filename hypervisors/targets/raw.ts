/** raw: the sparse raw disk itself, for physical installs, testing and other tools. */
import path from 'node:path';
import { createRawWriter } from '../writers/raw.js';
import type { Target, TargetContext } from '../target.js';
import { applianceFileBase } from './appliance.js';

const rawPath = (ctx: TargetContext) => path.join(ctx.dir, `${applianceFileBase(ctx.recipe)}.raw`);

export const raw: Target = {
  name: 'raw',
  summary: 'sparse raw disk image (BIOS and UEFI bootable)',
  disks: (ctx) => [{ path: rawPath(ctx), create: createRawWriter }],
  package: async (ctx) => [rawPath(ctx)],
};
