/**
 * The OVF package the two ESX targets ship: the .ovf, its .mf manifest and the
 * streamOptimized VMDK, side by side in the target's folder.
 */
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hashFile } from '../../builder/tree-hash.js';
import { ovfManifest, type ManifestAlgorithm } from '../descriptors/ovf.js';
import type { VirtualMachine } from '../descriptors/vm.js';
import type { TargetContext } from '../target.js';
import type { FanOutResult } from '../writers/fanout.js';
import { inFolder, type ZipEntry } from '../packaging/zip.js';
import { applianceVm } from './appliance.js';

export interface OvfPackageSpec {
  target: string;
  /** File name without extension of the .ovf and .mf, e.g. "LBVMESXv8". */
  base: string;
  /** The VMDK written during the read of the raw disk. */
  disk: string;
  descriptor: (vm: VirtualMachine) => string;
  manifest: ManifestAlgorithm;
}

export type OvfPackageFiles = [ovf: string, mf: string, disk: string];

/** Writes the .ovf and .mf beside the disk; returns the package's files in OVA order. */
export async function writeOvfPackage(ctx: TargetContext, written: FanOutResult, spec: OvfPackageSpec): Promise<OvfPackageFiles> {
  const vm = applianceVm(ctx, spec.target, {
    fileName: path.basename(spec.disk),
    capacityBytes: ctx.diskSize,
    populatedBytes: written.allocatedBytes,
    fileSizeBytes: (await stat(spec.disk)).size,
  });
  const ovf = path.join(ctx.dir, `${spec.base}.ovf`);
  const mf = path.join(ctx.dir, `${spec.base}.mf`);
  const descriptor = spec.descriptor(vm);
  await writeFile(ovf, descriptor);
  const manifest = ovfManifest(
    [
      { name: path.basename(ovf), content: descriptor },
      { name: path.basename(spec.disk), digest: await hashFile(spec.disk, spec.manifest) },
    ],
    spec.manifest,
  );
  await writeFile(mf, manifest);
  return [ovf, mf, spec.disk];
}

/** The package as zip entries in folder `folder`; the VMDK is stored as it is, being compressed already. */
export function ovfZipEntries(folder: string, [ovf, mf, disk]: OvfPackageFiles): ZipEntry[] {
  return [inFolder(folder, ovf), inFolder(folder, mf), inFolder(folder, disk, true)];
}
