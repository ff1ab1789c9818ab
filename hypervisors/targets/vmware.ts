/** vmware: VMware Workstation, Player and Server. A .vmx (virtualHW 4, E1000) and a sparse VMDK (guide: LBVMv8.zip). */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { vmxFile } from '../descriptors/vmx.js';
import { inFolder, writeZip } from '../packaging/zip.js';
import type { Target, TargetContext } from '../target.js';
import { applianceVm, artifactBase } from './appliance.js';
import { VMDK_MAX_DISK_SIZE, vmdkDisk } from './vmware-disks.js';

const NAME = 'vmware';
const base = (ctx: TargetContext) => artifactBase(ctx.recipe, 'LBVM');
const diskPath = (ctx: TargetContext) => path.join(ctx.dir, `${base(ctx)}.vmdk`);

export const vmware: Target = {
  name: NAME,
  summary: 'VMware Workstation, Player and Server: .vmx (virtualHW 4, E1000) and a monolithicSparse VMDK, as .zip',
  maxDiskSize: VMDK_MAX_DISK_SIZE,
  disks: (ctx) => [vmdkDisk(ctx, NAME, diskPath(ctx), 'monolithicSparse', '4')],
  async package(ctx) {
    const disk = diskPath(ctx);
    const vmx = path.join(ctx.dir, `${base(ctx)}.vmx`);
    await writeFile(vmx, vmxFile(applianceVm(ctx, NAME, { fileName: path.basename(disk), capacityBytes: ctx.diskSize })));
    return [await writeZip(path.join(ctx.dir, `${base(ctx)}.zip`), [inFolder(base(ctx), vmx), inFolder(base(ctx), disk)], ctx.epoch)];
  },
};
