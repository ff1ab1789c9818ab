import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { loadRecipe } from '../recipe/load.js';
import { bootFiles, type BootConfig } from './config.js';

const REPO = path.resolve(import.meta.dirname, '../..');

async function appliance(initramfs = false): Promise<{ cfg: string; config: BootConfig }> {
  const { recipe } = await loadRecipe(path.join(REPO, 'recipes/appliance.yaml'));
  const { config, files } = bootFiles(recipe, '6.1.0-lbbuild', initramfs);
  return { cfg: files['/boot/grub/grub.cfg'], config };
}

/** The menuentry of `slot`, its body lines trimmed. */
function entry(cfg: string, slot: string): string[] {
  const match = new RegExp(`^menuentry '[^']*\\(slot ${slot}\\)' \\{\\n([^}]*)\\}`, 'm').exec(cfg);
  assert.ok(match, `an entry for slot ${slot} in\n${cfg}`);
  return match[1]!.trim().split('\n').map((line) => line.trim());
}

test('grub-script-check accepts grub.cfg', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'lbbuild-grubcfg-'));
  try {
    const file = path.join(dir, 'grub.cfg');
    await writeFile(file, (await appliance()).cfg);
    await execa('grub-script-check', [file]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("each slot's entry reads the kernel from that slot's filesystem and gives the kernel that slot's partition", async () => {
  const { cfg, config } = await appliance();
  assert.notEqual(config.slots.A.fsUuid, config.slots.B.fsUuid);
  assert.notEqual(config.slots.A.partUuid, config.slots.B.partUuid);
  for (const slot of ['A', 'B'] as const) {
    const [search, linux, ...rest] = entry(cfg, slot);
    assert.equal(search, `search --no-floppy --fs-uuid --set=root ${config.slots[slot].fsUuid}`);
    assert.match(linux!, new RegExp(`^linux /boot/vmlinuz-6\\.1\\.0-lbbuild root=PARTUUID=${config.slots[slot].partUuid} rootfstype=ext4 rootwait lb\\.slot=${slot} ro `));
    assert.deepEqual(rest, [], 'no initrd for a kernel without one');
  }
  const withInitrd = entry((await appliance(true)).cfg, 'B');
  assert.match(withInitrd[1]!, / root=PARTUUID=\S+ lb\.slot=B /);
  assert.equal(withInitrd[2], 'initrd /boot/initrd.img-6.1.0-lbbuild');
});

test('the menu is hidden and not waited for; the slot state is read from grubenv and the trial saved before booting', async () => {
  const { cfg } = await appliance();
  const lines = cfg.split('\n').map((line) => line.trim());
  for (const line of ['set timeout_style=hidden', 'set timeout=0', 'load_env ORDER A_OK A_TRY B_OK B_TRY', 'save_env A_TRY B_TRY']) {
    assert.ok(lines.includes(line), `"${line}" in grub.cfg`);
  }
  assert.ok(cfg.indexOf('load_env') < cfg.indexOf('save_env') && cfg.indexOf('save_env') < cfg.indexOf('menuentry'));
  // A slot is chosen only when good and not on trial, and put on trial when chosen.
  for (const slot of ['A', 'B']) {
    assert.match(cfg, new RegExp(`if \\[ "\\$s" = ${slot} -a "\\$${slot}_OK" = 1 -a "\\$${slot}_TRY" = 0 \\]; then\\n\\s+set slot=${slot}\\n\\s+set ${slot}_TRY=1\\n\\s+break`));
  }
  // The entry chosen falls back to the other one when it cannot be loaded; entries by number, A first.
  assert.match(cfg, /if \[ "\$slot" = B \]; then\n\s+set default=1\n\s+set fallback=0\nelse\n\s+set default=0\n\s+set fallback=1\nfi/);
  assert.ok(cfg.indexOf('(slot A)') < cfg.indexOf('(slot B)'), 'entry 0 is slot A');
  assert.equal((cfg.match(/search /g) ?? []).length, 2, 'one search an entry, none outside them');
});
