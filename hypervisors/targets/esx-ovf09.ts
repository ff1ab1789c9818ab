/** esx-ovf09: ESX 3.5 and VirtualCenter 2.5. OVF 0.9, hardware version 4, E1000 (guide: LBVMESXv8_ovf0.9.zip). */
import path from 'node:path';
import { ovf09Descriptor } from '../descriptors/ovf.js';
import { writeZip } from '../packaging/zip.js';
import type { Target, TargetContext } from '../target.js';
import { artifactBase } from './appliance.js';
import { ovfZipEntries, writeOvfPackage } from './ovf-package.js';
import { VMDK_MAX_DISK_SIZE, vmdkDisk } from './vmware-disks.js';

const NAME = 'esx-ovf09';
const base = (ctx: TargetContext) => artifactBase(ctx.recipe, 'LBVMESX');
const folder = (ctx: TargetContext) => `${base(ctx)}_ovf0.9`;
const diskPath = (ctx: TargetContext) => path.join(ctx.dir, `${base(ctx)}-disk1.vmdk`);

export const esxOvf09: Target = {
  name: NAME,
  summary: 'VMware ESX 3.5: OVF 0.9 (hardware v4, E1000) and a streamOptimized VMDK, as .zip',
  maxDiskSize: VMDK_MAX_DISK_SIZE,
  disks: (ctx) => [vmdkDisk(ctx, NAME, diskPath(ctx), 'streamOptimized', '4')],
  async package(ctx, written) {
    const files = await writeOvfPackage(ctx, written, {
      target: NAME,
      base: base(ctx),
      disk: diskPath(ctx),
      descriptor: ovf09Descriptor,
      // ESX 3.5 knows no other digest.
      manifest: 'sha1',
    });
    return [await writeZip(path.join(ctx.dir, `${folder(ctx)}.zip`), ovfZipEntries(folder(ctx), files), ctx.epoch)];
  },
};
