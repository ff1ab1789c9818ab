/**
 * The A/B root slots on the booted appliance: GRUB chose slot A from grubenv on the EFI
 * system partition, the kernel runs from A's partition, and lb-slot-health marked A good.
 * The fallback check reboots (the VM must allow it): a try of the empty slot B ends on A.
 */
import assert from 'node:assert/strict';
import { BOOT_TIMEOUT_MS, type Check, type Session } from './checks.js';

const GRUBENV = '/boot/efi/grub/grubenv';
const SLOTLIB = '. /usr/lib/loadbalancer/slotlib.sh';

/** grubenv as grub-editenv lists it, by variable. */
async function grubenv(s: Session): Promise<Record<string, string>> {
  const listed = await s.vm.console.check(`grub-editenv ${GRUBENV} list`);
  return Object.fromEntries(listed.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

export const slotChecks: Check[] = [
  {
    name: 'root slot A booted from its partition, beside an empty slot B and the data partition; lb-slot-health marked A good',
    async run(s) {
      const c = s.vm.console;
      assert.match(await c.check('cat /proc/cmdline'), /(^| )lb\.slot=A( |$)/);
      const partitions = (await c.check('lsblk -rno PARTLABEL,FSTYPE')).split('\n').map((l) => l.trim()).filter((l) => l !== '');
      // The BIOS boot partition is there unless the recipe boots with UEFI alone.
      assert.deepEqual(partitions[0] === 'bios' ? partitions.slice(1) : partitions, ['esp vfat', 'root-a ext4', 'root-b', 'data ext4']);
      assert.equal(await c.check('lsblk -rno PARTLABEL "$(findmnt -no SOURCE /)"'), 'root-a');
      assert.equal(await c.check('systemctl is-active lb-slot-health'), 'active');
      assert.match(await c.check('journalctl -b -o cat -u lb-slot-health'), /lb-slot-health: slot A is good/);
      const env = await grubenv(s);
      assert.deepEqual(env, { ORDER: 'A B', A_OK: '1', A_TRY: '0', A_VERSION: '8.0', B_OK: '0', B_TRY: '0', B_VERSION: '' });
    },
  },
];

export const slotFallbackCheck: Check = {
  name: 'a try of the empty slot B falls back to slot A, and B is passed over from then on',
  async run(s) {
    const c = s.vm.console;
    await c.check(`${SLOTLIB} && slot_set ORDER='B A' B_OK=1 B_TRY=0`);
    const refused = await c.run(`${SLOTLIB} && slot_set B_TRY=2`);
    assert.equal(refused.status, 2, refused.output);
    assert.match(refused.output, /B_TRY '2' is not 0 or 1/);
    c.sendLine('reboot');
    const { before } = await c.expect(/lbmaster login: $/m, BOOT_TIMEOUT_MS);
    assert.match(before, /Falling back to .*slot A/, 'GRUB could not load slot B and fell back to A');
    await c.login('root', 'loadbalancer');
    await c.prepareShell();
    await c.run('systemctl is-system-running --wait', 180_000);
    assert.match(await c.check('cat /proc/cmdline'), /(^| )lb\.slot=A( |$)/);
    const env = await grubenv(s);
    assert.deepEqual(
      env,
      { ORDER: 'A B', A_OK: '1', A_TRY: '0', A_VERSION: '8.0', B_OK: '1', B_TRY: '1', B_VERSION: '' },
      'B was tried once (B_TRY=1), A marked good again and first in ORDER again',
    );
    assert.match(await c.check('journalctl -b -o cat -u lb-slot-health'), /slot B failed its trial boot; slot A is first again/);
    await c.check(`${SLOTLIB} && slot_set B_OK=0 B_TRY=0`);
  },
};
