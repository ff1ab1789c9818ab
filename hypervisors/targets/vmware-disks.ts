/** The VMDKs of the VMware targets: on LSI Logic SCSI, as every VMware descriptor here declares. */
import { createVmdkSparseWriter } from '../writers/vmdk-sparse.js';
import { createVmdkStreamWriter } from '../writers/vmdk-stream.js';
import type { DiskSpec, TargetContext } from '../target.js';
import { targetIds } from './ids.js';

/**
 * VMFS before ESXi 5.5 and VMware's hosted products take virtual disks of at
 * most 2 TiB less one sector.
 */
export const VMDK_MAX_DISK_SIZE = 2 * 1024 ** 4 - 512;

export type VmdkKind = 'streamOptimized' | 'monolithicSparse';

export function vmdkDisk(ctx: TargetContext, target: string, path: string, kind: VmdkKind, virtualHWVersion: string): DiskSpec {
  const create = kind === 'streamOptimized' ? createVmdkStreamWriter : createVmdkSparseWriter;
  const cid = targetIds(ctx.recipe, target).cid('disk');
  return { path, create: (options) => create({ ...options, adapterType: 'lsilogic', virtualHWVersion, cid }) };
}
