/** esx: ESX/ESXi 4.0 and later. OVF 1.0, vmx-07, VMXNET3 (guide: LBVMESXv8.zip, plus the same package as an OVA). */
import { MAX_NICS, VMWARE_MEMORY } from '../descriptors/vm.js';
import type { Target } from '../target.js';
import { VMDK_MAX_DISK_SIZE } from '../writers/vmdk-layout.js';

export const esx: Target = {
  name: 'esx',
  summary: 'VMware ESX/ESXi 4.0+: OVF 1.0 (vmx-07, VMXNET3) and a streamOptimized VMDK, as .zip and .ova',
  disk: { format: 'vmdk-stream-optimized', file: 'LBVMESXv{major}-disk1.vmdk' },
  hardware: { nic: 'vmxnet3', diskController: 'lsilogic', hardwareVersion: 7 },
  descriptor: {
    kind: 'ovf-1.0',
    file: 'LBVMESXv{major}.ovf',
    // SHA-1: ESX before 6.5 rejects SHA-256 manifests.
    manifest: { file: 'LBVMESXv{major}.mf', algorithm: 'sha1' },
  },
  packaging: [
    { kind: 'zip', file: 'LBVMESXv{major}.zip', folder: 'LBVMESXv{major}' },
    { kind: 'ova', file: 'LBVMESXv{major}.ova' },
  ],
  maxDiskSize: VMDK_MAX_DISK_SIZE,
  maxNics: MAX_NICS,
  memoryRule: VMWARE_MEMORY,
};
