/**
 * manifest.json: what a build produced (sha256 and size of every artifact) and from
 * what (recipe layers, SOURCE_DATE_EPOCH, stage keys, installed packages). It holds
 * no clock time, so it is as reproducible as the artifacts it lists.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hashFile } from './tree-hash.js';
import type { LoadedRecipe } from './recipe/load.js';
import type { Epoch } from './epoch.js';
import type { StageResult } from './stages/stage.js';
import type { InstalledPackage } from './backends/backend.js';
import { createHash } from 'node:crypto';

export interface ArtifactRecord {
  file: string;
  size: number;
  sha256: string;
}

export interface HardeningRecord {
  lynis: {
    version: string;
    hardeningIndex: number;
    minimumIndex: number;
    testsPerformed: number;
    warnings: number;
    suggestions: number;
    /** The full Lynis report, beside manifest.json. */
    report: string;
  };
}

export interface ManifestInput {
  loaded: LoadedRecipe;
  epoch: Epoch;
  stages: StageResult[];
  artifacts: string[];
  packages: InstalledPackage[];
  /** The kernel the image boots: built by the kernel stage, or the base's package. */
  kernel: { source: string; release: string };
  /** The audit of the booted image, when the recipe asks for one. */
  hardening?: HardeningRecord;
}

export async function writeManifest(dir: string, input: ManifestInput): Promise<{ records: ArtifactRecord[]; manifestPath: string }> {
  const { loaded, epoch, stages, artifacts, packages, hardening } = input;
  const records: ArtifactRecord[] = [];
  for (const file of artifacts) {
    records.push({ file: path.basename(file), size: (await stat(file)).size, sha256: await hashFile(file) });
  }
  const layers = await Promise.all(
    loaded.layers.map(async (file) => ({
      file: path.relative(loaded.projectRoot, file),
      sha256: createHash('sha256').update(await readFile(file)).digest('hex'),
    })),
  );
  const manifest = {
    product: { name: loaded.recipe.name, version: loaded.recipe.version },
    build: {
      recipe: layers,
      sourceDateEpoch: epoch.epoch,
      sourceDateEpochFrom: epoch.source,
      base: loaded.recipe.base,
      stages: stages.map(({ name, key }) => ({ name, key })),
      kernel: input.kernel,
    },
    artifacts: records,
    hardening,
    packages,
  };
  const manifestPath = path.join(dir, 'manifest.json');
  await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  return { records, manifestPath };
}
