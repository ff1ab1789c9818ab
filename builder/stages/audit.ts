/**
 * Stage audit: boots the finished raw disk in QEMU, logs in on the serial console as
 * root and runs Lynis (from the build host, on a read-only extra drive; the image
 * never carries it) over the booted appliance. The disk is opened with snapshot=on,
 * so nothing of the audit stays in the image. The measurement is cached; the recipe's
 * minimum is checked on every build, cached or not (requireMinimumIndex).
 * Output: lynis.json (index, version, warnings, suggestions, points lost per test) and lynis-report.dat.
 */
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bootVm } from '../vm/qemu.js';
import { BuildError } from '../errors.js';
import { trackTool, untrackTemporary } from '../cleanup.js';
import { makeLynisBundle } from '../audit/lynis-bundle.js';
import { parseLynisPointsLost, parseLynisReport, type LynisPointsLost, type LynisResult } from '../audit/lynis-report.js';
import type { Disk } from './disk.js';
import { planStage, type BuildContext, type PlannedStage } from './stage.js';
import { toolVersions, type HostTool } from '../tools.js';
import type { HardeningRecord } from '../manifest.js';

export const AUDIT_TOOLS: HostTool[] = ['qemu-system-x86_64', 'lynis'];
const LYNIS_RESULT = 'lynis.json';
const LYNIS_REPORT = 'lynis-report.dat';

const BUNDLE_SERIAL = 'lbbuild-lynis';
const GUEST_DIR = '/run/lbbuild-audit';
const BOOT_TIMEOUT_MS = 10 * 60_000;
/** Lynis runs thousands of short processes: slow under TCG, slower still on a busy host. */
const LYNIS_TIMEOUT_MS = 90 * 60_000;

export interface Audit extends LynisAudit {
  /** Lynis's own report file. */
  report: string;
}

export async function planAudit(diskKey: string): Promise<PlannedStage<Audit, Disk>> {
  return planStage<Audit, Disk>({
    name: 'audit',
    version: 1,
    // The Lynis bundle is made from the host's lynis package: its version names the bundle.
    inputs: { parents: { disk: diskKey }, tools: await toolVersions(AUDIT_TOOLS) },
    async build(build, dir, disk) {
      const bundleDir = await build.cache.tempDir('lynis-bundle');
      try {
        const bundle = await makeLynisBundle(path.join(bundleDir, 'lynis.tar'), build.epoch);
        const { report, pointsLog } = await runLynis(build, disk.image, bundle.file);
        const result: LynisAudit = { ...parseLynisReport(report), pointsLost: parseLynisPointsLost(pointsLog) };
        await writeFile(path.join(dir, LYNIS_REPORT), `${report}\n`);
        await writeFile(path.join(dir, LYNIS_RESULT), `${JSON.stringify(result, null, 2)}\n`);
      } finally {
        await rm(bundleDir, { recursive: true, force: true });
        untrackTemporary(bundleDir);
      }
    },
    async read(dir) {
      const result = JSON.parse(await readFile(path.join(dir, LYNIS_RESULT), 'utf8')) as LynisAudit;
      return { ...result, report: path.join(dir, LYNIS_REPORT) };
    },
  });
}

/** The recipe's minimum, checked on every build, whether the audit ran now or came from the cache. */
export function requireMinimumIndex(audit: Audit, minimumIndex: number): void {
  if (audit.hardeningIndex < minimumIndex) {
    throw new BuildError(
      `audit.lynis.minimumIndex: the image's Lynis hardening index is ${audit.hardeningIndex}, below the recipe's minimum of ${minimumIndex}; ` +
        `the ${audit.warnings.length} warnings and ${audit.suggestions.length} suggestions are in ${audit.report}: ` +
        'harden the image (overlays/hardening) or lower audit.lynis.minimumIndex',
    );
  }
}

export type LynisAudit = LynisResult & { pointsLost: LynisPointsLost[] };

/** The manifest's account of the audit; the report is copied into `outDir` beside manifest.json. */
export async function hardeningRecord(audit: Audit, minimumIndex: number, outDir: string): Promise<{ record: HardeningRecord; files: string[] }> {
  const report = path.join(outDir, LYNIS_REPORT);
  await copyFile(audit.report, report);
  const record: HardeningRecord = {
    lynis: {
      version: audit.version,
      hardeningIndex: audit.hardeningIndex,
      minimumIndex,
      testsPerformed: audit.testsPerformed,
      warnings: audit.warnings.length,
      suggestions: audit.suggestions.length,
      report: LYNIS_REPORT,
    },
  };
  return { record, files: [report] };
}

/** Boots the image, runs Lynis as root; returns its report and the log lines about hardening points. */
async function runLynis(ctx: BuildContext, image: string, bundle: string): Promise<{ report: string; pointsLog: string }> {
  const { recipe } = ctx.loaded;
  // The plan made sure the recipe has a root password.
  const root = recipe.users.find((user) => user.name === 'root')!;
  ctx.log('booting the image for the Lynis audit');
  const vm = await bootVm({
    image,
    firmware: recipe.disk.boot === 'uefi' ? 'uefi' : 'bios',
    nics: recipe.network.nics,
    memoryMiB: recipe.vm.memoryMiB,
    extraDrives: [{ file: bundle, serial: BUNDLE_SERIAL }],
  });
  const untrack = trackTool({ kill: () => (void vm.stop(), true) });
  const stopOnAbort = () => void vm.stop();
  ctx.signal.addEventListener('abort', stopOnAbort, { once: true });
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
    ctx.signal.removeEventListener('abort', stopOnAbort);
    await vm.stop();
  }
}
