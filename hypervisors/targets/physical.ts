/**
 * physical-<model>: what a factory and a customer need for one hardware model (its recipe
 * in recipes/models/): the factory image for the internal disk, the hybrid USB/CD
 * installer that writes it, and the signed update bundle of its root slot.
 */
import type { Target } from '../target.js';
import { INSTALLER_TOOLS } from '../packaging/installer-iso.js';

const MODELS = [
  { id: 'r20', label: 'Enterprise R20' },
  { id: 'max', label: 'Enterprise MAX' },
  { id: '10g', label: 'Enterprise 10G' },
  { id: 'r320', label: 'Enterprise R320' },
] as const;

const FACTORY_IMAGE = '{product}-v{version}.img.xz';

export const physicalTargets: Target[] = MODELS.map(({ id, label }) => ({
  name: `physical-${id}`,
  summary: `${label} (recipes/models/${id}.yaml): factory image (.img.xz), USB/CD installer (BIOS and UEFI), signed update bundle`,
  model: { id, recipe: `recipes/models/${id}.yaml` },
  // The disk the one read writes is the update bundle's root slot; the factory image and the installer come from the raw disk.
  disk: { format: 'root-slot-gzip', file: 'root.img.gz' },
  packaging: [
    { kind: 'raw-xz', file: FACTORY_IMAGE },
    { kind: 'installer-iso', file: '{product}-v{version}-installer.iso', image: FACTORY_IMAGE },
    { kind: 'lbupdate', file: '{product}-v{version}.lbupdate' },
  ],
  tools: ['xz', ...INSTALLER_TOOLS],
  needsUpdateKey: true,
}));
