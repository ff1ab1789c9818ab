/**
 * One measured run of the benchmark, in its own process so its peak RSS is its
 * own: the disks of the named targets written in one read of the raw disk
 * (`disks`), or buildTargets with packaging (`build`). Prints the seconds spent
 * as JSON; process start-up and the recipe load are not counted.
 *
 *   measured-run.ts disks|build TARGETS RAW_DISK EXTENTS_JSON OUT_DIR
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { loadRecipe } from '../builder/recipe/load.js';
import { buildTargets } from '../hypervisors/build-targets.js';
import { selectTargets } from '../hypervisors/registry.js';
import type { TargetContext } from '../hypervisors/target.js';
import { writeDiskImages } from '../hypervisors/writers/fanout.js';
import { readRawDisk, type Extent } from '../hypervisors/writers/raw-source.js';

const [mode, targetSpec, rawDisk, extentsFile, outDir] = process.argv.slice(2) as [string, string, string, string, string];
const REPO = path.resolve(import.meta.dirname, '..');
const EPOCH = 1764028800;

const { recipe } = await loadRecipe(path.join(REPO, 'recipes/appliance.yaml'));
const targets = selectTargets(targetSpec);
const extents = JSON.parse(await readFile(extentsFile, 'utf8')) as Extent[];
const diskSize = (await stat(rawDisk)).size;
const started = performance.now();
const seconds = () => (performance.now() - started) / 1000;

if (mode === 'disks') {
  const writers = [];
  for (const target of targets) {
    const ctx: TargetContext = { recipe, epoch: EPOCH, dir: path.join(outDir, target.name), diskSize, rawDisk };
    await mkdir(ctx.dir);
    for (const disk of target.disks(ctx)) writers.push(await disk.create({ path: disk.path, diskSize }));
  }
  await writeDiskImages(readRawDisk(rawDisk, extents), writers);
  console.log(JSON.stringify({ seconds: seconds() }));
} else if (mode === 'build') {
  let disksDone = 0;
  const log = (line: string) => {
    if (disksDone === 0 && line.startsWith('packaging ')) disksDone = seconds();
  };
  await buildTargets({ targets, recipe, epoch: EPOCH, rawDisk, extents, diskSize, staging: outDir, log });
  console.log(JSON.stringify({ seconds: seconds(), diskSeconds: disksDone }));
} else {
  throw new Error(`unknown mode ${mode}: disks or build`);
}
