import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { loadRecipe } from '../recipe/load.js';
import { bootFiles, type BootConfig } from './config.js';

const REPO = path.resolve(import.meta.dirname, '../..');

async function appliance(options: { initramfs?: boolean; boot?: 'bios' | 'uefi' | 'both' } = {}): Promise<{ cfg: string; slotCfg: string; config: BootConfig }> {
  const { recipe } = await loadRecipe(path.join(REPO, 'recipes/appliance.yaml'));
  const { config, files } = bootFiles({ ...recipe, disk: { ...recipe.disk, boot: options.boot ?? recipe.disk.boot } }, '6.1.0-lbbuild', options.initramfs ?? false);
  return { cfg: files['/boot/grub/grub.cfg'], slotCfg: files['/boot/grub/slot.cfg'], config };
}

/** The menuentry of `slot`, its body lines trimmed. */
function entry(cfg: string, slot: string): string[] {
  const match = new RegExp(`^menuentry '[^']*\\(slot ${slot}\\)' \\{\\n([^}]*)\\}`, 'm').exec(cfg);
  assert.ok(match, `an entry for slot ${slot} in\n${cfg}`);
  return match[1]!.trim().split('\n').map((line) => line.trim());
}

test('grub-script-check accepts grub.cfg and slot.cfg', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'lbbuild-grubcfg-'));
  try {
    const { cfg, slotCfg } = await appliance();
    for (const [name, text] of [['grub.cfg', cfg], ['slot.cfg', slotCfg]]) {
      const file = path.join(dir, name!);
      await writeFile(file, text!);
      await execa('grub-script-check', [file]);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("each slot's entry sources slot.cfg from that slot's partition on the EFI system partition's disk, naming the slot and its partition", async () => {
  for (const [boot, first] of [['both', 3], ['bios', 3], ['uefi', 2]] as const) {
    const { cfg, config } = await appliance({ boot });
    assert.notEqual(config.slots.A.partUuid, config.slots.B.partUuid);
    for (const [index, slot] of (['A', 'B'] as const).entries()) {
      assert.deepEqual(entry(cfg, slot), [
        `regexp --set=1:lb_disk '^([^,]+),' "$root"`,
        `set root="$lb_disk,gpt${first + index}"`,
        `set lb_slot=${slot}`,
        `set lb_partuuid=${config.slots[slot].partUuid}`,
        'source /boot/grub/slot.cfg',
      ], `slot ${slot} of a disk that boots with ${boot}`);
    }
  }
});

test("slot.cfg boots the slot's kernel on the partition grub.cfg named, read-write, with no slot of its own", async () => {
  const { slotCfg } = await appliance();
  const lines = slotCfg.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
  assert.equal(lines.length, 1, slotCfg);
  assert.match(lines[0]!, /^linux \/boot\/vmlinuz-6\.1\.0-lbbuild root=PARTUUID=\$lb_partuuid rootfstype=ext4 rootwait lb\.slot=\$lb_slot rw rootflags=errors=remount-ro /);
  assert.doesNotMatch(slotCfg, / ro( |$)/m);
  const withInitrd = (await appliance({ initramfs: true })).slotCfg;
  assert.match(withInitrd, /^linux \S+ root=PARTUUID=\$lb_partuuid lb\.slot=\$lb_slot /m);
  assert.match(withInitrd, /^initrd \/boot\/initrd\.img-6\.1\.0-lbbuild$/m);
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
  assert.doesNotMatch(cfg, /search |linux /, 'grub.cfg finds the slots by partition and leaves what they boot to them');
});
