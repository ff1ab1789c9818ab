/** A model's file as the R20 recipe makes it, and lb-nic-order's naming from it over a made-up /sys. */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { loadRecipe } from '../recipe/load.js';
import { modelFile } from './model.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const NIC_ORDER = path.join(REPO, 'overlays/physical/usr/local/sbin/lb-nic-order');

let work: string;
let r20File: string;

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'lbbuild-model-'));
  const { recipe } = await loadRecipe(path.join(REPO, 'recipes/models/r20.yaml'));
  r20File = modelFile(recipe.model!);
});
after(() => rm(work, { recursive: true, force: true }));

/** A /sys with the given network ports: name, driver and PCI address; `lo` has no device. */
async function fakeSysfs(name: string, ports: Array<[string, string, string]>): Promise<string> {
  const sys = path.join(work, name);
  await mkdir(path.join(sys, 'class/net/lo'), { recursive: true });
  await mkdir(path.join(sys, 'bus/pci'), { recursive: true });
  for (const [port, driver, pci] of ports) {
    const device = path.join(sys, 'devices/pci0000:00', pci);
    await mkdir(device, { recursive: true });
    await mkdir(path.join(sys, 'bus/pci/drivers', driver), { recursive: true });
    await symlink(path.join(sys, 'bus/pci/drivers', driver), path.join(device, 'driver')).catch(() => undefined);
    await symlink(path.join(sys, 'bus/pci'), path.join(device, 'subsystem')).catch(() => undefined);
    await mkdir(path.join(sys, 'class/net', port));
    await symlink(device, path.join(sys, 'class/net', port, 'device'));
  }
  return sys;
}

async function plan(sys: string) {
  const modelPath = path.join(work, 'model');
  await writeFile(modelPath, r20File);
  return execa(NIC_ORDER, ['--plan'], { env: { LB_SYSFS: sys, LB_MODEL_FILE: modelPath }, reject: false });
}

describe('the model file', () => {
  test("every model's file counts the ports its recipe gives its NICs", async () => {
    for (const id of ['r20', 'max', '10g', 'r320']) {
      const { recipe } = await loadRecipe(path.join(REPO, `recipes/models/${id}.yaml`));
      const text = modelFile(recipe.model!);
      assert.match(text, new RegExp(`^MODEL_ID=${id}\nMODEL_NAME=LBHW-${id.toUpperCase()}\nNIC_COUNT=${recipe.network.nics}\n`), id);
    }
  });

  test('names the R20, its ports in ethN order and the heartbeat port', () => {
    assert.equal(
      r20File,
      'MODEL_ID=r20\nMODEL_NAME=LBHW-R20\nNIC_COUNT=4\nNIC_LAYOUT="e1000e:2:onboard igb:2:add-in"\nHEARTBEAT_SERIAL=/dev/ttyS1\n',
    );
  });
});

describe('lb-nic-order', () => {
  test("names the ports by the model's groups, each in PCI order, and what is left after them", async () => {
    // The kernel named them in PCI order; the R20's onboard e1000e ports must come first.
    const sys = await fakeSysfs('mixed', [
      ['eth0', 'igb', '0000:00:02.0'],
      ['eth1', 'e1000e', '0000:00:03.0'],
      ['eth2', 'igb', '0000:00:04.0'],
      ['eth3', 'e1000e', '0000:00:19.0'],
      ['eth4', 'ixgbe', '0000:01:00.0'],
    ]);
    const result = await plan(sys);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(
      result.stdout,
      [
        'eth1 eth0 e1000e 0000:00:03.0',
        'eth3 eth1 e1000e 0000:00:19.0',
        'eth0 eth2 igb 0000:00:02.0',
        'eth2 eth3 igb 0000:00:04.0',
        'eth4 eth4 ixgbe 0000:01:00.0',
      ].join('\n'),
    );
    assert.equal(result.stderr, '');
  });

  test('reports a group that is short of ports, and keeps PCI order for stand-ins', async () => {
    // QEMU 7.2 has no igb: four e1000e stand in for the R20's ports in the boot tests.
    const sys = await fakeSysfs('stand-ins', [
      ['eth0', 'e1000e', '0000:00:03.0'],
      ['eth1', 'e1000e', '0000:00:04.0'],
      ['eth2', 'e1000e', '0000:00:05.0'],
      ['eth3', 'e1000e', '0000:00:06.0'],
    ]);
    const result = await plan(sys);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.deepEqual(result.stdout.split('\n').map((line) => line.split(' ').slice(0, 2).join(' ')), ['eth0 eth0', 'eth1 eth1', 'eth2 eth2', 'eth3 eth3']);
    assert.equal(result.stderr, 'lb-nic-order: the model has 2 igb port(s) (add-in); found 0');
  });

  test('refuses a layout it cannot read and an unknown option', async () => {
    const sys = await fakeSysfs('bad', []);
    const modelPath = path.join(work, 'bad-model');
    await writeFile(modelPath, 'NIC_LAYOUT="e1000e:two:onboard"\n');
    const bad = await execa(NIC_ORDER, ['--plan'], { env: { LB_SYSFS: sys, LB_MODEL_FILE: modelPath }, reject: false });
    assert.equal(bad.exitCode, 1);
    assert.match(bad.stderr, /NIC_LAYOUT group 'e1000e:two:onboard' is not driver:ports:onboard\|add-in/);
    const usage = await execa(NIC_ORDER, ['--rename-all'], { reject: false });
    assert.equal(usage.exitCode, 2);
  });
});
