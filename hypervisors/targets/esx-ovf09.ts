/** esx-ovf09: ESX 3.5 and VirtualCenter 2.5. OVF 0.9, hardware version 4, E1000 (guide: LBVMESXv8_ovf0.9.zip). */
import { MAX_NICS, VMWARE_MEMORY } from '../descriptors/vm.js';
import type { Target } from '../target.js';
import { VMDK_MAX_DISK_SIZE } from '../writers/vmdk-layout.js';

export const esxOvf09: Target = {
  name: 'esx-ovf09',
  summary: 'VMware ESX 3.5: OVF 0.9 (hardware v4, E1000) and a streamOptimized VMDK, as .zip',
  disk: { format: 'vmdk-stream-optimized', file: 'LBVMESXv{major}-disk1.vmdk' },
  hardware: { nic: 'e1000', diskController: 'lsilogic', hardwareVersion: 4 },
  descriptor: {
    kind: 'ovf-0.9',
    file: 'LBVMESXv{major}.ovf',
    // ESX 3.5 knows no other digest.
    manifest: { file: 'LBVMESXv{major}.mf', algorithm: 'sha1' },
  },
  packaging: [{ kind: 'zip', file: 'LBVMESXv{major}_ovf0.9.zip', folder: 'LBVMESXv{major}_ovf0.9' }],
  maxDiskSize: VMDK_MAX_DISK_SIZE,
  maxNics: MAX_NICS,
  memoryRule: VMWARE_MEMORY,
};
