/** xen: XenServer and XCP-ng. An XVA with its ova.xml (guide: LBVMXENv8.zip holding Loadbalancer.org_VA_V8.0.xva). */
import { MAX_NICS } from '../descriptors/vm.js';
import type { Target } from '../target.js';
import { VHD_MAX_DISK_SIZE } from '../writers/vhd.js';

export const xen: Target = {
  name: 'xen',
  summary: 'XenServer / XCP-ng: XVA (ova.xml with a VIF per NIC, the disk in 1 MiB blocks), as .zip',
  // The XVA carries its descriptor, ova.xml, as its first member.
  disk: { format: 'xva', file: 'Loadbalancer.org_VA_V{version}.xva' },
  hardware: { nic: 'xen-vif', diskController: 'xen-vbd' },
  packaging: [{ kind: 'zip', file: 'LBVMXENv{major}.zip' }],
  // XenServer keeps VDIs as VHD files or volumes on its usual storage repositories.
  maxDiskSize: VHD_MAX_DISK_SIZE,
  maxNics: MAX_NICS,
};
