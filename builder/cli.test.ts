import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lbbuild, scratchProject } from '../test-vms/build-helpers.js';

test('every command has --help; no command is a usage error', async () => {
  for (const command of ['image', 'validate', 'targets', 'test']) {
    const help = await lbbuild([command, '--help']);
    assert.equal(help.exitCode, 0);
    assert.match(help.stdout, new RegExp(`^usage: lbbuild ${command}`));
  }
  const none = await lbbuild([]);
  assert.equal(none.exitCode, 2);
  assert.match(none.stdout, /commands:/);
});

test('bad arguments exit 2 with a message that says what to do', async () => {
  const unknown = await lbbuild(['imgae']);
  assert.equal(unknown.exitCode, 2);
  assert.match(unknown.stderr, /unknown command "imgae"; commands: image, plan, validate, targets, test/);
  const option = await lbbuild(['image', '--targt', 'raw']);
  assert.equal(option.exitCode, 2);
  assert.match(option.stderr, /image: Unknown option '--targt'/);
  const out = await mkdtemp(path.join(tmpdir(), 'lbbuild-cli-'));
  const target = await lbbuild(['image', '--target', 'esx,vbox', '--out', out]);
  assert.equal(target.exitCode, 2);
  assert.match(target.stderr, /--target: unknown target "vbox"; valid targets: raw, esx, esx-ovf09, vmware, hyperv, hyperv-legacy, kvm, xen, update, physical-r20, physical-max, physical-10g, physical-r320, all/);
  assert.deepEqual(await readdir(out), [], 'nothing written');
  const noImage = await lbbuild(['test']);
  assert.equal(noImage.exitCode, 2);
  assert.match(noImage.stderr, /--image FILE is required/);
});

test('validate reports a recipe error as file:line:column and exits 2', async () => {
  const project = await scratchProject();
  const recipe = path.join(project, 'recipes/bad.yaml');
  await writeFile(recipe, 'extends: appliance.yaml\nvm:\n  cpus: 0\n');
  const result = await lbbuild(['validate', recipe]);
  assert.equal(result.exitCode, 2);
  assert.equal(result.stderr.trim(), `lbbuild: ${recipe}:3:9: vm.cpus: must be >= 1; expected virtual CPUs of VM targets`);
  const good = await lbbuild(['validate', path.join(project, 'recipes/appliance.yaml')]);
  assert.equal(good.exitCode, 0);
  assert.match(good.stdout, /valid \(2 layers\)/);
});

test('targets lists every target with its availability', async () => {
  const result = await lbbuild(['targets']);
  assert.equal(result.exitCode, 0);
  const names = result.stdout.trim().split('\n').map((line) => line.split(/\s+/)[0]);
  assert.deepEqual(names, ['raw', 'esx', 'esx-ovf09', 'vmware', 'hyperv', 'hyperv-legacy', 'kvm', 'xen', 'update', 'physical-r20', 'physical-max', 'physical-10g', 'physical-r320']);
  assert.match(result.stdout, /^kvm\s+available/m);
});
