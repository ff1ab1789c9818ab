/**
 * Issue 10's traffic proof: the load balancer and a backend VM of real servers on a
 * layer-2 network in a namespace of the test's own, both booted once; virtual services
 * configured with lbcli on the load balancer's console, requests sent by curl from the
 * client inside the namespace.
 */
import { after, before, describe, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildImage, TEST_CACHE } from './build-helpers.js';
import { serviceChecks } from './service-checks.js';
import { DR } from './services-setup.js';
import { startServicesLab, type ServicesLab } from './services-lab.js';

describe('virtual services on a layer-2 network: the load balancer and its real servers', () => {
  let out: string;
  let lab: ServicesLab | undefined;
  before(async () => {
    // The same disk as appliance.test.ts's; its audit is that test's, so this build waits for nothing past the disk.
    out = await mkdtemp(path.join(tmpdir(), 'lbbuild-services-'));
    const image = await buildImage(['--target', 'raw', '--no-audit', '--out', out, '--cache', TEST_CACHE]);
    lab = await startServicesLab(image.artifacts.find((a) => a.file.endsWith('.raw'))!.file, { drVips: [DR.ip] });
  });
  after(async () => {
    await lab?.close();
    await rm(out, { recursive: true, force: true });
  });
  for (const check of serviceChecks) {
    test(check.name, async (t) => {
      try {
        await check.run(lab!, (line) => t.diagnostic(line));
      } catch (error) {
        for (const [vm, transcript] of [['load balancer', lab!.lb.vm.console.transcript], ['backend', lab!.backend.vm.console.transcript]]) {
          t.diagnostic(`${vm} console (last 40 lines):\n${transcript!.split('\n').slice(-40).join('\n')}`);
        }
        throw error;
      }
    });
  }
});
