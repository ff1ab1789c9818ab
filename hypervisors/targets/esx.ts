/** esx: ESX/ESXi 4.0 and later. OVF 1.0, vmx-07, VMXNET3 (guide: LBVMESXv8.zip, plus the same package as an OVA). */
import path from 'node:path';
import { ovf10Descriptor } from '../descriptors/ovf.js';
import { writeOva } from '../packaging/ova.js';
import { writeZip } from '../packaging/zip.js';
import type { Target, TargetContext } from '../target.js';
import { artifactBase } from './appliance.js';
import { ovfZipEntries, writeOvfPackage } from './ovf-package.js';
import { VMDK_MAX_DISK_SIZE, vmdkDisk } from './vmware-disks.js';

const NAME = 'esx';
const base = (ctx: TargetContext) => artifactBase(ctx.recipe, 'LBVMESX');
const diskPath = (ctx: TargetContext) => path.join(ctx.dir, `${base(ctx)}-disk1.vmdk`);

export const esx: Target = {
  name: NAME,
  summary: 'VMware ESX/ESXi 4.0+: OVF 1.0 (vmx-07, VMXNET3) and a streamOptimized VMDK, as .zip and .ova',
  maxDiskSize: VMDK_MAX_DISK_SIZE,
  disks: (ctx) => [vmdkDisk(ctx, NAME, diskPath(ctx), 'streamOptimized', '7')],
  async package(ctx, written) {
    const files = await writeOvfPackage(ctx, written, {
      target: NAME,
      base: base(ctx),
      disk: diskPath(ctx),
      descriptor: ovf10Descriptor,
      // SHA-1: ESX before 6.5 rejects SHA-256 manifests.
      manifest: 'sha1',
    });
    return [
      await writeZip(path.join(ctx.dir, `${base(ctx)}.zip`), ovfZipEntries(base(ctx), files), ctx.epoch),
      await writeOva(path.join(ctx.dir, `${base(ctx)}.ova`), files, ctx.epoch),
    ];
  },
};
