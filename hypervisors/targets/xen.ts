/** xen: XenServer and XCP-ng. An XVA with its ova.xml (guide: LBVMXENv8.zip holding Loadbalancer.org_VA_V8.0.xva). */
import path from 'node:path';
import { xvaOvaXml } from '../descriptors/xva-ova-xml.js';
import { writeZip } from '../packaging/zip.js';
import type { Target, TargetContext } from '../target.js';
import { VHD_MAX_DISK_SIZE } from '../writers/vhd.js';
import { createXvaWriter } from '../writers/xva.js';
import { applianceFileBase, applianceVm, artifactBase } from './appliance.js';

const NAME = 'xen';
/** Any reference works as long as ova.xml and the disk's block folder agree. */
const VDI_REF = 'Ref:4';
const xvaPath = (ctx: TargetContext) => path.join(ctx.dir, `${applianceFileBase(ctx.recipe)}.xva`);

export const xen: Target = {
  name: NAME,
  summary: 'XenServer / XCP-ng: XVA (ova.xml with a VIF per NIC, the disk in 1 MiB blocks), as .zip',
  // XenServer keeps VDIs as VHD files or volumes on its usual storage repositories.
  maxDiskSize: VHD_MAX_DISK_SIZE,
  disks(ctx) {
    const xva = xvaPath(ctx);
    const vm = applianceVm(ctx, NAME, { fileName: path.basename(xva), capacityBytes: ctx.diskSize });
    const ovaXml = xvaOvaXml(vm, { vdiRef: VDI_REF, timestamp: new Date(ctx.epoch * 1000) });
    return [{ path: xva, create: (options) => createXvaWriter({ ...options, ovaXml, vdiRef: VDI_REF, timestamp: ctx.epoch }) }];
  },
  async package(ctx) {
    const xva = xvaPath(ctx);
    const zip = path.join(ctx.dir, `${artifactBase(ctx.recipe, 'LBVMXEN')}.zip`);
    return [await writeZip(zip, [{ name: path.basename(xva), path: xva }], ctx.epoch)];
  },
};
