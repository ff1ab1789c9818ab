/**
 * The plan of a build, made before any stage runs: the recipe loaded and every check
 * that needs no build run (recipe-checks.ts, the targets' limits, the host tools), then
 * each stage's key computed from what it consumes and looked up in the cache. `lbbuild
 * plan` prints it; `lbbuild image` runs it first, so a bad recipe stops within seconds.
 */
import path from 'node:path';
import { loadRecipe, type LoadedRecipe } from '../recipe/load.js';
import { backendFor } from '../backends/index.js';
import type { BaseBackend } from '../backends/backend.js';
import { StageCache } from '../cache.js';
import { resolveEpoch, type Epoch } from '../epoch.js';
import { PlanError } from '../errors.js';
import { requireTools, type HostTool } from '../tools.js';
import { selectTargets, targetLimitProblems } from '../../hypervisors/registry.js';
import type { Target } from '../../hypervisors/target.js';
import type { BuildableTarget } from '../../hypervisors/target-builder/build-target.js';
import { planRootfs, type Rootfs } from '../stages/rootfs.js';
import { planComponents, COMPONENTS_TOOLS, type Components } from '../stages/components.js';
import { planKernel, KERNEL_TOOLS, type BuiltKernel } from '../stages/kernel.js';
import { planConfigure, CONFIGURE_TOOLS, type Configured, type ConfigureNeeds } from '../stages/configure.js';
import { planDisk, DISK_TOOLS, type Disk } from '../stages/disk.js';
import { planAudit, AUDIT_TOOLS, type Audit } from '../stages/audit.js';
import type { PlannedStage, PlanContext, StageName } from '../stages/stage.js';
import { recipeProblems } from './recipe-checks.js';
import { diskLayoutProblem } from '../disk/layout.js';
import { planUpdateKey, type UpdateKey } from '../update/signing-key.js';

export interface PlanOptions {
  recipeFile: string;
  /** A --target value: comma-separated names, or "all". */
  targets: string;
  cacheDir: string;
  /** Run the recipe's audit stage, if it has one (default true). */
  audit?: boolean;
}

export interface PlannedStages {
  rootfs: PlannedStage<Rootfs>;
  components?: PlannedStage<Components>;
  kernel?: PlannedStage<BuiltKernel>;
  configure: PlannedStage<Configured, ConfigureNeeds>;
  disk: PlannedStage<Disk, Configured>;
  audit?: PlannedStage<Audit, Disk>;
}

export interface BuildPlan {
  loaded: LoadedRecipe;
  backend: BaseBackend;
  epoch: Epoch;
  targets: BuildableTarget[];
  stages: PlannedStages;
  cache: StageCache;
  /** The stages whose entries the cache already has. */
  cached: Set<StageName>;
  /** The key that signs update bundles, when the build has one. */
  updateKey: UpdateKey | undefined;
}

/** The stages in the order they run and are reported, whichever finished first. */
export function stagesInOrder(stages: PlannedStages): Array<PlannedStage<unknown, never>> {
  const { rootfs, components, kernel, configure, disk, audit } = stages;
  return [rootfs, components, kernel, configure, disk, audit].filter((s) => s !== undefined) as Array<PlannedStage<unknown, never>>;
}

export async function planBuild(options: PlanOptions): Promise<BuildPlan> {
  const loaded = await loadRecipe(options.recipeFile);
  const targets = selectTargets(options.targets, loaded.recipe);
  const backend = backendFor(loaded.recipe.base.backend);
  const cache = new StageCache(path.resolve(options.cacheDir));
  await requireValidRecipe(loaded, backend, cache.downloads, targets);
  const audit = options.audit !== false && loaded.recipe.audit !== undefined;
  requireTools(stageTools(loaded, backend, audit));
  const updateKey = planUpdateKey(loaded, targets);
  const epoch = resolveEpoch(loaded.projectRoot, loaded.layers);
  const ctx: PlanContext = { loaded, backend, epoch: epoch.epoch, updatePublicKey: updateKey?.publicKeyPem };

  const [rootfs, components, kernel] = await Promise.all([planRootfs(ctx), planComponents(ctx), planKernel(ctx)]);
  const configure = await planConfigure(ctx, { rootfs: rootfs.key, components: components?.key, kernel: kernel?.key });
  const disk = await planDisk(ctx, configure.key);
  const stages: PlannedStages = { rootfs, components, kernel, configure, disk, audit: audit ? await planAudit(disk.key) : undefined };

  const cached = new Set<StageName>();
  for (const stage of stagesInOrder(stages)) if (await cache.has(stage.name, stage.key)) cached.add(stage.name);
  return { loaded, backend, epoch, targets, stages, cache, cached, updateKey };
}

/** Runs every check that needs no build; throws one PlanError listing each problem at its recipe line. */
export async function requireValidRecipe(loaded: LoadedRecipe, backend: BaseBackend, downloads: string, targets: Target[] = []): Promise<void> {
  // A disk with no layout is among the recipe's problems; the targets' limits need a layout.
  const limits = diskLayoutProblem(loaded.recipe.disk)
    ? []
    : targetLimitProblems(loaded.recipe, targets).map(({ field, problem }) => ({ keyPath: field.split('.'), problem }));
  const problems = [...(await recipeProblems(loaded, backend, downloads)), ...limits];
  if (problems.length) throw new PlanError(problems.map(({ keyPath, problem }) => loaded.errorAt(keyPath, problem)));
}

function stageTools(loaded: LoadedRecipe, backend: BaseBackend, audit: boolean): HostTool[] {
  const { recipe } = loaded;
  return [
    ...backend.tools,
    ...(recipe.components?.length ? COMPONENTS_TOOLS : []),
    ...(recipe.kernel.source === 'build' ? KERNEL_TOOLS : []),
    ...CONFIGURE_TOOLS,
    ...DISK_TOOLS,
    ...(audit ? AUDIT_TOOLS : []),
  ];
}
