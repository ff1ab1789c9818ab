/** raw: the sparse raw disk itself, for physical installs, testing and other tools. */
import type { Target } from '../target.js';

export const raw: Target = {
  name: 'raw',
  summary: 'sparse raw disk image (BIOS and UEFI bootable)',
  disk: { format: 'raw', file: 'Loadbalancer.org_VA_V{version}.raw' },
  packaging: [{ kind: 'disk' }],
  // A physical model's raw disk too, for tests and other tools.
  anyRecipe: true,
};
