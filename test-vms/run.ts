/**
 * `lbbuild test`: boots an image and runs the appliance checks in one session,
 * printing a pass/fail line per check and the console transcript when one fails.
 */
import { writeFile } from 'node:fs/promises';
import { bootVm, type Firmware } from '../builder/vm/qemu.js';
import { applianceChecks, bootChecks, WUI_HTTP, WUI_HTTPS, type Session } from './checks.js';
import { hardeningChecks, PROBE_PORT } from './hardening-checks.js';
import { slotChecks } from './slot-checks.js';

export interface TestRun {
  image: string;
  firmware: Firmware;
  transcript?: string;
  report: (line: string) => void;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  seconds: number;
  error?: string;
}

export async function runApplianceTests(options: TestRun): Promise<{ results: CheckResult[]; facts: Session['facts'] }> {
  const vm = await bootVm({ image: options.image, firmware: options.firmware, forwardPorts: [WUI_HTTP, WUI_HTTPS, PROBE_PORT] });
  const session: Session = { vm, facts: {} };
  const results: CheckResult[] = [];
  try {
    for (const check of [...bootChecks, ...slotChecks, ...hardeningChecks, ...applianceChecks]) {
      const started = Date.now();
      try {
        await check.run(session);
        results.push({ name: check.name, ok: true, seconds: (Date.now() - started) / 1000 });
        options.report(`pass  ${check.name} (${Math.round((Date.now() - started) / 1000)} s)`);
      } catch (error) {
        results.push({ name: check.name, ok: false, seconds: (Date.now() - started) / 1000, error: String(error) });
        options.report(`FAIL  ${check.name}: ${(error as Error).message}`);
        options.report(`--- console transcript (last 60 lines) ---\n${vm.console.transcript.split('\n').slice(-60).join('\n')}`);
        break;
      }
    }
  } finally {
    await vm.stop();
    if (options.transcript) await writeFile(options.transcript, vm.console.transcript);
  }
  const skipped = bootChecks.length + slotChecks.length + hardeningChecks.length + applianceChecks.length - results.length;
  if (skipped > 0) options.report(`${skipped} check(s) not run after the failure`);
  const { facts } = session;
  if (facts.bootSeconds !== undefined) options.report(`info  boot to login prompt: ${facts.bootSeconds} s`);
  if (facts.machineId) options.report(`info  machine-id: ${facts.machineId}`);
  if (facts.hostKey) options.report(`info  ssh host key: ${facts.hostKey}`);
  return { results, facts };
}
