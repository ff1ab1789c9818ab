import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadRecipe } from '../recipe/load.js';
import { bootFiles } from './config.js';

const REPO = path.resolve(import.meta.dirname, '../..');

test('fstab mounts the EFI system partition on first access, so the boot does not wait for udev to find it', async () => {
  const { recipe } = await loadRecipe(path.join(REPO, 'recipes/appliance.yaml'));
  const fstab = bootFiles(recipe, '6.1.0-lbbuild', false).files['/etc/fstab'];
  const esp = fstab.split('\n').find((line) => line.includes('/boot/efi'));
  assert.ok(esp, fstab);
  const options = esp.split('\t')[3]!.split(',');
  assert.ok(options.includes('x-systemd.automount'), esp);
  assert.ok(options.includes('nofail'), esp);
  assert.ok(!options.includes('noauto'), 'noauto would leave the automount point unset');
});
