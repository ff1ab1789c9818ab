/**
 * Stage audit: boots the finished raw disk in QEMU, logs in on the serial console as
 * root and runs Lynis (from the build host, on a read-only extra drive; the image
 * never carries it) over the booted appliance. The disk is opened with snapshot=on,
 * so nothing of the audit stays in the image. The measurement is cached; the recipe's
 * minimum is checked on every build, cached or not.
 * Output: lynis.json (index, version, warnings, suggestions, points lost per test) and lynis-report.dat.
 */
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bootVm } from '../vm/qemu.js';
import { BuildError } from '../errors.js';
import { trackTool, untrackTemporary } from '../cleanup.js';
import { makeLynisBundle } from '../audit/lynis-bundle.js';
import { parseLynisPointsLost, parseLynisReport, type LynisPointsLost, type LynisResult } from '../audit/lynis-report.js';
import { DISK_IMAGE } from './disk.js';
import { stageKey, type BuildContext, type StageResult } from './stage.js';
import type { HostTool } from '../tools.js';
import type { HardeningRecord } from '../manifest.js';

export const AUDIT_TOOLS: HostTool[] = ['qemu-system-x86_64', 'lynis'];
export const LYNIS_RESULT = 'lynis.json';
export const LYNIS_REPORT = 'lynis-report.dat';

const BUNDLE_SERIAL = 'lbbuild-lynis';
const GUEST_DIR = '/run/lbbuild-audit';
const BOOT_TIMEOUT_MS = 10 * 60_000;
/** Lynis runs thousands of short processes: slow under TCG, slower still on a busy host. */
const LYNIS_TIMEOUT_MS = 90 * 60_000;

export async function auditStage(ctx: BuildContext, disk: StageResult): Promise<StageResult> {
  const { recipe } = ctx.loaded;
  const minimumIndex = recipe.audit!.lynis.minimumIndex;
  const bundleDir = await ctx.cache.tempDir('lynis-bundle');
  try {
    const bundle = await makeLynisBundle(path.join(bundleDir, 'lynis.tar'), ctx.epoch);
    const key = stageKey('audit', import.meta.url, { disk: disk.key, lynis: { version: bundle.version, sha256: bundle.sha256 } });
    const entry = await ctx.cache.produce('audit', key, async (dir) => {
      const { report, pointsLog } = await runLynis(ctx, path.join(disk.dir, DISK_IMAGE), bundle.file);
      const result: LynisAudit = { ...parseLynisReport(report), pointsLost: parseLynisPointsLost(pointsLog) };
      await writeFile(path.join(dir, LYNIS_REPORT), `${report}\n`);
      await writeFile(path.join(dir, LYNIS_RESULT), `${JSON.stringify(result, null, 2)}\n`);
    });
    await requireMinimum(entry.dir, minimumIndex);
    return { name: 'audit', key, ...entry };
  } finally {
    await rm(bundleDir, { recursive: true, force: true });
    untrackTemporary(bundleDir);
  }
}

async function requireMinimum(auditDir: string, minimumIndex: number): Promise<void> {
  const result = await readLynisResult(auditDir);
  if (result.hardeningIndex < minimumIndex) {
    throw new BuildError(
      `audit.lynis.minimumIndex: the image's Lynis hardening index is ${result.hardeningIndex}, below the recipe's minimum of ${minimumIndex}; ` +
        `the ${result.warnings.length} warnings and ${result.suggestions.length} suggestions are in ${path.join(auditDir, LYNIS_REPORT)}: ` +
        'harden the image (overlays/hardening) or lower audit.lynis.minimumIndex',
    );
  }
}

export type LynisAudit = LynisResult & { pointsLost: LynisPointsLost[] };

export async function readLynisResult(auditDir: string): Promise<LynisAudit> {
  return JSON.parse(await readFile(path.join(auditDir, LYNIS_RESULT), 'utf8')) as LynisAudit;
}

/** The manifest's account of the audit; the report is copied into `outDir` beside manifest.json. */
export async function hardeningRecord(ctx: BuildContext, audit: StageResult, outDir: string): Promise<{ record: HardeningRecord; files: string[] }> {
  const result = await readLynisResult(audit.dir);
  const report = path.join(outDir, LYNIS_REPORT);
  await copyFile(path.join(audit.dir, LYNIS_REPORT), report);
  const record: HardeningRecord = {
    lynis: {
      version: result.version,
      hardeningIndex: result.hardeningIndex,
      minimumIndex: ctx.loaded.recipe.audit!.lynis.minimumIndex,
      testsPerformed: result.testsPerformed,
      warnings: result.warnings.length,
      suggestions: result.suggestions.length,
      report: LYNIS_REPORT,
    },
  };
  return { record, files: [report] };
}

/** Boots the image, runs Lynis as root; returns its report and the log lines about hardening points. */
async function runLynis(ctx: BuildContext, image: string, bundle: string): Promise<{ report: string; pointsLog: string }> {
  const { recipe } = ctx.loaded;
  const root = recipe.users.find((user) => user.name === 'root');
  if (!root) throw new BuildError('audit: Lynis runs as root, but the recipe sets no password for root (users: - name: root)');
  ctx.log('booting the image for the Lynis audit');
  const vm = await bootVm({
    image,
    firmware: recipe.disk.boot === 'uefi' ? 'uefi' : 'bios',
    nics: recipe.network.nics,
    memoryMiB: recipe.vm.memoryMiB,
    extraDrives: [{ file: bundle, serial: BUNDLE_SERIAL }],
  });
  const untrack = trackTool({ kill: () => (void vm.stop(), true) });
  const console = vm.console;
  try {
    await console.expect(new RegExp(`^${recipe.hostname} login: $`, 'm'), BOOT_TIMEOUT_MS);
    await console.login('root', root.password);
    await console.prepareShell();
    // Audit the steady state: every unit started, as on an appliance in service.
    const { output: state } = await console.run('systemctl is-system-running --wait', 5 * 60_000);
    ctx.log(`system ${state}; unpacking Lynis from the extra drive`);
    await console.check(`mkdir ${GUEST_DIR} && tar -xf /dev/disk/by-id/virtio-${BUNDLE_SERIAL} -C ${GUEST_DIR}`);
    ctx.log('running lynis audit system');
    // /tmp may be noexec and Lynis finds its include/, db/ and profile by the working directory (--usecwd).
    // Its screen output stays on the console, so a run that stalls shows where; no test may wait for input.
    await console.check(
      `(cd ${GUEST_DIR}/lynis && sh ./lynis audit system --quick --no-colors --usecwd --plugindir ${GUEST_DIR}/lynis/plugins ` +
        `--logfile ${GUEST_DIR}/lynis.log --report-file ${GUEST_DIR}/report.dat) </dev/null 2>&1`,
      LYNIS_TIMEOUT_MS,
    );
    const report = await console.check(`cat ${GUEST_DIR}/report.dat`);
    const pointsLog = await console.check(`grep -E 'Performing test ID|assigned partial number of hardening points' ${GUEST_DIR}/lynis.log || true`);
    return { report, pointsLog };
  } catch (error) {
    const transcript = console.transcript.split('\n').slice(-40).join('\n');
    throw new BuildError(`audit: the Lynis run on the booted image failed: ${(error as Error).message}\n--- console (last 40 lines) ---\n${transcript}`);
  } finally {
    untrack();
    await vm.stop();
  }
}
