/**
 * `lbbuild image`: recipe → stages (rootfs, components and kernel side by side, then
 * configure, disk, audit) → one read of the raw disk fanned out to every requested
 * target → artifacts and manifest.json in --out. Artifacts are made in a temporary
 * folder inside --out and renamed into place only when all of them are complete.
 */
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Listr, type ListrTask } from 'listr2';
import { loadRecipe } from './recipe/load.js';
import { StageCache } from './cache.js';
import { resolveEpoch, type Epoch } from './epoch.js';
import { requireTools, type HostTool } from './tools.js';
import { backendFor } from './backends/index.js';
import { rootfsStage } from './stages/rootfs.js';
import { configureStage } from './stages/configure.js';
import { componentsStage, COMPONENTS_TOOLS } from './stages/components.js';
import { kernelStage, KERNEL_TOOLS } from './stages/kernel.js';
import { diskStage, DISK_EXTENTS, DISK_IMAGE } from './stages/disk.js';
import { auditStage, hardeningRecord, AUDIT_TOOLS } from './stages/audit.js';
import type { BuildContext, StageResult } from './stages/stage.js';
import { diskLayout } from './disk/layout.js';
import type { BootConfig } from './boot/config.js';
import { UserError } from './errors.js';
import { stopTools, trackTemporary, untrackTemporary } from './cleanup.js';
import { writeManifest, type ArtifactRecord } from './manifest.js';
import { selectTargets } from '../hypervisors/registry.js';
import { buildTargets } from '../hypervisors/build-targets.js';

const BUILD_TOOLS: HostTool[] = ['tar', 'chroot', 'openssl', 'mke2fs', 'debugfs', 'mkfs.fat', 'mcopy', 'sfdisk', 'grub-mkimage'];

export interface ImageOptions {
  recipeFile: string;
  targets: string;
  outDir: string;
  cacheDir: string;
  /** default: live progress (TTY); simple: plain lines; silent: nothing (for --json). */
  progress: 'default' | 'simple' | 'silent';
  /** Run the recipe's audit stage, if it has one (default true). */
  audit?: boolean;
}

export interface BuildSummary {
  recipe: string;
  epoch: Epoch;
  stages: Array<{ name: string; key: string; cached: boolean }>;
  artifacts: ArtifactRecord[];
  manifest: string;
  durationsMs: Record<string, number>;
}

interface PipelineState {
  ctx?: BuildContext;
  stages: Map<string, StageResult>;
  artifacts: string[];
}

/** The order stages are reported in, whichever finished first. */
const STAGE_ORDER = ['rootfs', 'components', 'kernel', 'configure', 'disk', 'audit'];

export async function buildImage(options: ImageOptions): Promise<BuildSummary> {
  const loaded = await loadRecipe(options.recipeFile);
  const targets = selectTargets(options.targets);
  const { size: diskSize } = diskLayout(loaded.recipe.disk);
  for (const target of targets) {
    if (target.maxDiskSize !== undefined && diskSize > target.maxDiskSize) {
      throw new UserError(`disk.size: ${loaded.recipe.disk.size} is larger than target ${target.name} allows (${target.maxDiskSize / 2 ** 30} GiB); make the disk smaller or drop that target`);
    }
  }
  const backend = backendFor(loaded.recipe.base.backend);
  const kernelTools = loaded.recipe.kernel.source === 'build' ? KERNEL_TOOLS : [];
  const audit = options.audit !== false && loaded.recipe.audit !== undefined;
  const auditTools = audit ? AUDIT_TOOLS : [];
  requireTools([...backend.tools, ...BUILD_TOOLS, ...COMPONENTS_TOOLS, ...kernelTools, ...auditTools]);
  const epoch = resolveEpoch(loaded.projectRoot, loaded.layers);
  const cache = new StageCache(path.resolve(options.cacheDir));
  await cache.removeAbandoned();

  const outDir = path.resolve(options.outDir);
  await mkdir(outDir, { recursive: true });
  const staging = path.join(outDir, `.lbbuild-tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  trackTemporary(staging);
  await mkdir(staging);

  const durationsMs: Record<string, number> = {};
  const state: PipelineState = { stages: new Map(), artifacts: [] };
  const timed = (name: string, body: (log: (line: string) => void) => Promise<string | void>): ListrTask['task'] =>
    async (_, task) => {
      const started = Date.now();
      const note = await body((line) => (task.output = line));
      durationsMs[name] = Date.now() - started;
      task.title = `${task.title}${note ? ` (${note})` : ''} — ${formatDuration(durationsMs[name]!)}`;
    };
  /**
   * A stage as a progress task. Side by side (see sideBySide), `siblings` holds the
   * stages running with it, and its output lines carry its name since they interleave.
   */
  const stageTask = (name: string, runStage: (ctx: BuildContext) => Promise<StageResult>, siblings?: Promise<unknown>[]): ListrTask => ({
    title: name,
    task: timed(name, async (log) => {
      const running = runStage({ ...state.ctx!, log: siblings ? (line) => log(`${name}: ${line}`) : log });
      siblings?.push(running);
      try {
        const result = await running;
        state.stages.set(name, result);
        return result.cached ? 'cached' : undefined;
      } catch (error) {
        // Stop the siblings and let them remove their half-built entries before reporting.
        await stopTools();
        await Promise.allSettled(siblings ?? []);
        throw error;
      }
    }),
  });
  /** Independent stages run at once: the kernel compiles while the root filesystems install. */
  const sideBySide = (title: string, stages: Array<[string, (ctx: BuildContext) => Promise<StageResult>]>): ListrTask => {
    const siblings: Promise<unknown>[] = [];
    return {
      title,
      task: (_, task) => task.newListr(stages.map(([name, runStage]) => stageTask(name, runStage, siblings)), { concurrent: true, exitOnError: true }),
    };
  };

  const stage = (name: string) => state.stages.get(name)!;
  try {
    await new Listr(
      [
        {
          title: 'prepare',
          task: timed('prepare', async () => {
            state.ctx = { loaded, backend, cache, epoch: epoch.epoch, log: () => undefined };
          }),
        },
        sideBySide('rootfs, components and kernel', [
          ['rootfs', rootfsStage],
          ['components', componentsStage],
          ['kernel', kernelStage],
        ]),
        stageTask('configure', (ctx) => configureStage(ctx, stage('rootfs'), stage('components'), stage('kernel'))),
        stageTask('disk', (ctx) => diskStage(ctx, stage('configure'))),
        ...(audit ? [stageTask('audit', (ctx) => auditStage(ctx, stage('disk')))] : []),
        {
          title: `write ${targets.map((t) => t.name).join(', ')}`,
          task: timed('targets', async (log) => {
            const disk = stage('disk').dir;
            state.artifacts = await buildTargets({
              targets,
              recipe: loaded.recipe,
              epoch: epoch.epoch,
              rawDisk: path.join(disk, DISK_IMAGE),
              extents: JSON.parse(await readFile(path.join(disk, DISK_EXTENTS), 'utf8')),
              diskSize,
              staging,
              log,
            });
          }),
        },
      ],
      {
        renderer: options.progress,
        fallbackRenderer: 'simple',
        fallbackRendererCondition: options.progress === 'default' && !process.stdout.isTTY,
        exitOnError: true,
        // cleanup.ts handles Ctrl-C: it waits for the tools and removes temporaries before exiting.
        registerSignalListeners: false,
        rendererOptions: { collapseSubtasks: false },
      },
    ).run();

    const packages = JSON.parse(await readFile(path.join(stage('configure').dir, 'packages.json'), 'utf8'));
    const boot = JSON.parse(await readFile(path.join(stage('configure').dir, 'boot.json'), 'utf8')) as BootConfig;
    const hardening = audit ? await hardeningRecord(state.ctx!, stage('audit'), staging) : undefined;
    const stages = STAGE_ORDER.flatMap((name) => state.stages.get(name) ?? []);
    const { records, manifestPath } = await writeManifest(staging, {
      loaded,
      epoch,
      stages,
      artifacts: state.artifacts,
      packages,
      kernel: { source: loaded.recipe.kernel.source, release: boot.kernelVersion },
      hardening: hardening?.record,
    });
    for (const file of [...state.artifacts, ...(hardening?.files ?? []), manifestPath]) await rename(file, path.join(outDir, path.basename(file)));
    return {
      recipe: loaded.file,
      epoch,
      stages: stages.map(({ name, key, cached }) => ({ name, key, cached })),
      artifacts: records.map((r) => ({ ...r, file: path.join(outDir, r.file) })),
      manifest: path.join(outDir, 'manifest.json'),
      durationsMs,
    };
  } finally {
    await rm(staging, { recursive: true, force: true });
    untrackTemporary(staging);
  }
}

function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 100) / 10;
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${Math.round(seconds % 60)}s`;
}
