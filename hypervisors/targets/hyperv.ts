/** hyperv: Hyper-V on Windows Server 2012 R2 and later. A dynamic VHDX and an import script (guide: LBVMHYPER-V3v8.zip). */
import { HYPERV_MEMORY, MAX_NICS } from '../descriptors/vm.js';
import type { Target } from '../target.js';
import { VHDX_MAX_DISK_SIZE } from '../writers/vhdx.js';

export const hyperv: Target = {
  name: 'hyperv',
  summary: 'Microsoft Hyper-V, Windows Server 2012 R2+: dynamic VHDX with a PowerShell import script (Generation 1), as .zip',
  disk: { format: 'vhdx', file: 'LBVMHYPER-V3v{major}.vhdx' },
  // Generation 1 boots only from IDE.
  hardware: { nic: 'hyperv-synthetic', diskController: 'ide' },
  descriptor: { kind: 'hyperv-import-script', edition: 'hyperv' },
  // The guide has users pick the folder after extracting, so the zip holds it.
  packaging: [{ kind: 'zip', file: 'LBVMHYPER-V3v{major}.zip', folder: 'LBVMHYPER-V3v{major}' }],
  maxDiskSize: VHDX_MAX_DISK_SIZE,
  maxNics: MAX_NICS,
  memoryRule: HYPERV_MEMORY,
};
