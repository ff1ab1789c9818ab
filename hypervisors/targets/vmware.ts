/** vmware: VMware Workstation, Player and Server. A .vmx (virtualHW 4, E1000) and a sparse VMDK (guide: LBVMv8.zip). */
import { MAX_NICS, VMWARE_MEMORY } from '../descriptors/vm.js';
import type { Target } from '../target.js';
import { VMDK_MAX_DISK_SIZE } from '../writers/vmdk-layout.js';

export const vmware: Target = {
  name: 'vmware',
  summary: 'VMware Workstation, Player and Server: .vmx (virtualHW 4, E1000) and a monolithicSparse VMDK, as .zip',
  disk: { format: 'vmdk-monolithic-sparse', file: 'LBVMv{major}.vmdk' },
  hardware: { nic: 'e1000', diskController: 'lsilogic', hardwareVersion: 4 },
  descriptor: { kind: 'vmx', file: 'LBVMv{major}.vmx' },
  packaging: [{ kind: 'zip', file: 'LBVMv{major}.zip', folder: 'LBVMv{major}' }],
  maxDiskSize: VMDK_MAX_DISK_SIZE,
  maxNics: MAX_NICS,
  memoryRule: VMWARE_MEMORY,
};
