/** hyperv-legacy: Hyper-V on Windows Server 2008 R2 and 2012. A dynamic VHD and an import script (guide: LBVMHYPER-Vv8.zip). */
import { HYPERV_MEMORY, MAX_NICS } from '../descriptors/vm.js';
import type { Target } from '../target.js';
import { VHD_MAX_DISK_SIZE } from '../writers/vhd.js';

export const hypervLegacy: Target = {
  name: 'hyperv-legacy',
  summary: 'Microsoft Hyper-V, Windows Server 2008 R2 and 2012: dynamic VHD with a PowerShell import script, as .zip',
  disk: { format: 'vhd-dynamic', file: 'LBVMHYPER-Vv{major}.vhd' },
  hardware: { nic: 'hyperv-synthetic', diskController: 'ide' },
  descriptor: { kind: 'hyperv-import-script', edition: 'hyperv-legacy' },
  packaging: [{ kind: 'zip', file: 'LBVMHYPER-Vv{major}.zip', folder: 'LBVMHYPER-Vv{major}' }],
  maxDiskSize: VHD_MAX_DISK_SIZE,
  maxNics: MAX_NICS,
  memoryRule: HYPERV_MEMORY,
};
