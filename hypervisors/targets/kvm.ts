/** kvm: every KVM host. A libvirt domain for `virsh define` and a qcow2 disk (guide: LBVMKVMv8.tar.bz2). */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { libvirtDomainXml } from '../descriptors/libvirt.js';
import { TAR_BZ2_TOOLS, writeTarBz2 } from '../packaging/tar-bz2.js';
import type { RegisteredTarget } from '../registry.js';
import type { TargetContext } from '../target.js';
import { createQcow2Writer } from '../writers/qcow2.js';
import { applianceFileBase, applianceVm, artifactBase } from './appliance.js';

const NAME = 'kvm';
/** The guide has users extract the archive here, so the domain's disk path points here. */
const LIBVIRT_IMAGES = '/var/lib/libvirt/images';
const diskPath = (ctx: TargetContext) => path.join(ctx.dir, `${applianceFileBase(ctx.recipe)}.qcow2`);

export const kvm: RegisteredTarget = {
  name: NAME,
  summary: 'KVM: libvirt domain XML (virtio, NICs on NAT network "default", serial console) and a qcow2 disk, as .tar.bz2',
  tools: TAR_BZ2_TOOLS,
  disks: (ctx) => [{ path: diskPath(ctx), create: createQcow2Writer }],
  async package(ctx) {
    const disk = diskPath(ctx);
    const xml = path.join(ctx.dir, `${applianceFileBase(ctx.recipe)}.xml`);
    const vm = applianceVm(ctx, NAME, { fileName: path.basename(disk), capacityBytes: ctx.diskSize });
    const diskOnHost = path.posix.join(LIBVIRT_IMAGES, path.basename(disk));
    await writeFile(xml, libvirtDomainXml(vm, { diskPath: diskOnHost, diskFormat: 'qcow2', domainType: 'kvm' }));
    const members = [xml, disk].map((file) => ({ name: path.basename(file), path: file }));
    return [await writeTarBz2(path.join(ctx.dir, `${artifactBase(ctx.recipe, 'LBVMKVM')}.tar.bz2`), members, ctx.epoch)];
  },
};
