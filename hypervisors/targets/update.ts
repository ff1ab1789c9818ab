/**
 * update: the signed update bundle of the appliance's root slot, which `lb-update apply`
 * writes to the inactive slot of a running appliance of any virtual target.
 */
import type { Target } from '../target.js';

export const update: Target = {
  name: 'update',
  summary: 'signed update bundle (root slot image, manifest, Ed25519 signature) for lb-update on a running appliance',
  disk: { format: 'root-slot-gzip', file: 'root.img.gz' },
  packaging: [{ kind: 'lbupdate', file: 'Loadbalancer.org_VA_V{version}.lbupdate' }],
  needsUpdateKey: true,
};
