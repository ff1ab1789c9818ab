/**
 * What both Hyper-V targets ship: one folder holding a README, the PowerShell
 * script that creates the VM, and the disk. The guide has users pick that
 * folder (LBVMHYPER-Vv8) after extracting, so the zip holds it.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HYPERV_SCRIPT_NAME, hypervImportScript, hypervReadme, type HypervTarget } from '../descriptors/hyperv.js';
import { inFolder, writeZip } from '../packaging/zip.js';
import type { TargetContext } from '../target.js';
import { applianceVm } from './appliance.js';

/** Writes the README and script beside `disk` and zips the three into `<folder>.zip`. */
export async function packageHyperv(ctx: TargetContext, target: HypervTarget, folder: string, disk: string): Promise<string[]> {
  const diskFileName = path.basename(disk);
  const vm = applianceVm(ctx, target, { fileName: diskFileName, capacityBytes: ctx.diskSize });
  const readme = path.join(ctx.dir, 'README.txt');
  const script = path.join(ctx.dir, HYPERV_SCRIPT_NAME);
  await writeFile(readme, hypervReadme(vm, target));
  await writeFile(script, hypervImportScript(vm, { diskFileName, generation: 1 }));
  const entries = [readme, script, disk].map((file) => inFolder(folder, file));
  return [await writeZip(path.join(ctx.dir, `${folder}.zip`), entries, ctx.epoch)];
}
