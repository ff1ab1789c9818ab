/** Writes a target's descriptor files beside its written disk. */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hashFile } from '../../builder/tree-hash.js';
import { HYPERV_SCRIPT_NAME, hypervImportScript, hypervReadme } from '../descriptors/hyperv.js';
import { libvirtDomainXml } from '../descriptors/libvirt.js';
import { ovf09Descriptor, ovf10Descriptor, ovfManifest } from '../descriptors/ovf.js';
import type { VirtualMachine } from '../descriptors/vm.js';
import { vmxFile } from '../descriptors/vmx.js';
import type { Descriptor, DiskFormat, NameTemplate } from '../target.js';

export interface DescriptorJob {
  /** The target's folder, where the files are written. */
  dir: string;
  /** The written disk image, in `dir`. */
  disk: string;
  diskFormat: DiskFormat;
  /** The machine, with the sizes of the written image. */
  vm: VirtualMachine;
  fileName: (template: NameTemplate) => string;
}

/** Writes the files `descriptor` names; returns their paths in the order packages list them. */
export async function writeDescriptorFiles(descriptor: Descriptor, job: DescriptorJob): Promise<string[]> {
  const { dir, disk, vm, fileName } = job;
  const write = async (name: string, content: string) => {
    const file = path.join(dir, name);
    await writeFile(file, content);
    return file;
  };
  switch (descriptor.kind) {
    case 'ovf-1.0':
    case 'ovf-0.9': {
      const ovfText = (descriptor.kind === 'ovf-1.0' ? ovf10Descriptor : ovf09Descriptor)(vm);
      const ovf = await write(fileName(descriptor.file), ovfText);
      const { algorithm } = descriptor.manifest;
      const manifest = ovfManifest(
        [
          { name: path.basename(ovf), content: ovfText },
          { name: path.basename(disk), digest: await hashFile(disk, algorithm) },
        ],
        algorithm,
      );
      return [ovf, await write(fileName(descriptor.manifest.file), manifest)];
    }
    case 'vmx':
      return [await write(fileName(descriptor.file), vmxFile(vm))];
    case 'hyperv-import-script':
      return [
        await write('README.txt', hypervReadme(vm, descriptor.edition)),
        await write(HYPERV_SCRIPT_NAME, hypervImportScript(vm, { diskFileName: path.basename(disk), generation: 1 })),
      ];
    case 'libvirt-domain': {
      const diskPath = path.posix.join(descriptor.diskDirectory, path.basename(disk));
      const xml = libvirtDomainXml(vm, { diskPath, diskFormat: libvirtDiskFormat(job.diskFormat), domainType: 'kvm' });
      return [await write(fileName(descriptor.file), xml)];
    }
  }
}

function libvirtDiskFormat(format: DiskFormat): 'qcow2' | 'raw' {
  if (format !== 'qcow2' && format !== 'raw') throw new Error(`a libvirt domain takes a qcow2 or raw disk, not ${format}`);
  return format;
}
