/**
 * `lbbuild image`: the plan first (every check that needs no build, the stage keys),
 * then the stages (rootfs, components and kernel side by side, then configure, disk,
 * audit), then one read of the raw disk fanned out to every requested target, then
 * artifacts and manifest.json in --out. Artifacts are made in a temporary folder inside
 * --out and renamed into place only when all of them are complete. One AbortSignal
 * reaches every stage: when one fails, the others stop within seconds.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Listr, type ListrTask } from 'listr2';
import type { Epoch } from './epoch.js';
import { stopTools, trackTemporary, untrackTemporary } from './cleanup.js';
import { StoppedError } from './errors.js';
import { writeManifest, type ArtifactRecord } from './manifest.js';
import { planBuild, stagesInOrder, type BuildPlan, type PlanOptions } from './plan/plan.js';
import { hardeningRecord, requireMinimumIndex } from './stages/audit.js';
import type { BuildContext, PlannedStage, StageResult } from './stages/stage.js';
import type { Rootfs } from './stages/rootfs.js';
import type { Components } from './stages/components.js';
import type { BuiltKernel } from './stages/kernel.js';
import type { Configured } from './stages/configure.js';
import type { Disk } from './stages/disk.js';
import type { Audit } from './stages/audit.js';
import { buildTargets } from '../hypervisors/build-targets.js';

export interface ImageOptions extends PlanOptions {
  outDir: string;
  /** default: live progress (TTY); simple: plain lines; silent: nothing (for --json). */
  progress: 'default' | 'simple' | 'silent';
}

export interface BuildSummary {
  recipe: string;
  epoch: Epoch;
  stages: Array<{ name: string; key: string; cached: boolean }>;
  artifacts: ArtifactRecord[];
  manifest: string;
  durationsMs: Record<string, number>;
}

interface Built {
  rootfs?: StageResult<Rootfs>;
  components?: StageResult<Components>;
  kernel?: StageResult<BuiltKernel>;
  configure?: StageResult<Configured>;
  disk?: StageResult<Disk>;
  audit?: StageResult<Audit>;
}

export async function buildImage(options: ImageOptions): Promise<BuildSummary> {
  const plan = await planBuild(options);
  const { loaded, cache, stages } = plan;
  await cache.removeAbandoned();

  const outDir = path.resolve(options.outDir);
  await mkdir(outDir, { recursive: true });
  const staging = path.join(outDir, `.lbbuild-tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  trackTemporary(staging);
  await mkdir(staging);

  const stop = new AbortController();
  stop.signal.addEventListener('abort', () => void stopTools(), { once: true });
  const ctx: BuildContext = { loaded, backend: plan.backend, cache, epoch: plan.epoch.epoch, signal: stop.signal, log: () => undefined };
  const durationsMs: Record<string, number> = {};
  const built: Built = {};
  let artifacts: string[] = [];

  const timed = (name: string, body: (log: (line: string) => void) => Promise<string | void>): ListrTask['task'] =>
    async (_, task) => {
      const started = Date.now();
      const note = await body((line) => (task.output = line));
      durationsMs[name] = Date.now() - started;
      task.title = `${task.title}${note ? ` (${note})` : ''} — ${formatDuration(durationsMs[name]!)}`;
    };
  /** The first stage failure: the error reported, not the "stopped" of the stages it stopped. */
  let failure: unknown;
  /** Stages running side by side; one that fails waits for the others to stop before reporting. */
  const running: Array<Promise<unknown>> = [];
  /** A stage as a progress task; side by side, its output lines carry its name since they interleave. */
  const stageTask = <Output, Needs>(
    stage: PlannedStage<Output, Needs>,
    needs: () => Needs,
    keep: (result: StageResult<Output>) => void,
    sideBySide = false,
  ): ListrTask => ({
    title: stage.name,
    task: timed(stage.name, async (log) => {
      const run = stage.run({ ...ctx, log: sideBySide ? (line) => log(`${stage.name}: ${line}`) : log }, needs());
      running.push(run);
      try {
        const result = await run;
        keep(result);
        return result.cached ? 'cached' : undefined;
      } catch (error) {
        if (!stop.signal.aborted) {
          failure = error;
          stop.abort(new StoppedError(`stopped because ${stage.name} failed`));
        }
        await Promise.allSettled(running);
        throw error;
      }
    }),
  });
  const firstThree = [
    stageTask(stages.rootfs, () => undefined, (r) => (built.rootfs = r), true),
    ...(stages.components ? [stageTask(stages.components, () => undefined, (r) => (built.components = r), true)] : []),
    ...(stages.kernel ? [stageTask(stages.kernel, () => undefined, (r) => (built.kernel = r), true)] : []),
  ];

  try {
    await new Listr(
      [
        {
          title: firstThree.map((t) => t.title).join(', '),
          // Independent stages run at once: the kernel compiles while the root filesystems install.
          task: (_, task) => task.newListr(firstThree, { concurrent: true, exitOnError: true }),
        },
        stageTask(
          stages.configure,
          () => ({ rootfs: built.rootfs!.output, components: built.components?.output, kernel: built.kernel?.output }),
          (r) => (built.configure = r),
        ),
        stageTask(stages.disk, () => built.configure!.output, (r) => (built.disk = r)),
        ...(stages.audit ? [stageTask(stages.audit, () => built.disk!.output, (r) => (built.audit = r))] : []),
        {
          title: `write ${plan.targets.map((t) => t.name).join(', ')}`,
          task: timed('targets', async (log) => {
            const disk = built.disk!.output;
            artifacts = await buildTargets({
              targets: plan.targets,
              recipe: loaded.recipe,
              epoch: ctx.epoch,
              rawDisk: disk.image,
              extents: disk.extents,
              diskSize: disk.size,
              updateKey: plan.updateKey,
              system: { root: built.configure!.output.root, kernelVersion: built.configure!.output.boot.kernelVersion },
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
        // cleanup.ts handles Ctrl-C: it stops the tools and removes temporaries before exiting.
        registerSignalListeners: false,
        rendererOptions: { collapseSubtasks: false },
      },
    ).run();
    return await finish(plan, built, artifacts, staging, outDir, durationsMs);
  } catch (error) {
    throw failure ?? error;
  } finally {
    await rm(staging, { recursive: true, force: true });
    untrackTemporary(staging);
  }
}

/** The audit's verdict, the manifest, and every file renamed from the staging folder into --out. */
async function finish(plan: BuildPlan, built: Built, artifacts: string[], staging: string, outDir: string, durationsMs: Record<string, number>): Promise<BuildSummary> {
  const { loaded, epoch } = plan;
  const configured = built.configure!.output;
  const audit = built.audit?.output;
  if (audit) requireMinimumIndex(audit, loaded.recipe.audit!.lynis.minimumIndex);
  const hardening = audit ? await hardeningRecord(audit, loaded.recipe.audit!.lynis.minimumIndex, staging) : undefined;
  const results = stagesInOrder(plan.stages).map((s) => built[s.name]!);
  const { records, manifestPath } = await writeManifest(staging, {
    loaded,
    epoch,
    stages: results,
    artifacts,
    packages: configured.packages,
    kernel: { source: loaded.recipe.kernel.source, release: configured.boot.kernelVersion },
    hardening: hardening?.record,
  });
  for (const file of [...artifacts, ...(hardening?.files ?? []), manifestPath]) await rename(file, path.join(outDir, path.basename(file)));
  return {
    recipe: loaded.file,
    epoch,
    stages: results.map(({ name, key, cached }) => ({ name, key, cached })),
    artifacts: records.map((r) => ({ ...r, file: path.join(outDir, r.file) })),
    manifest: path.join(outDir, 'manifest.json'),
    durationsMs,
  };
}

function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 100) / 10;
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${Math.round(seconds % 60)}s`;
}
