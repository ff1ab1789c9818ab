/**
 * Signed A/B updates on a running appliance: the default appliance (v8.0) and the same
 * recipe at v8.0.1, both built with the test's own signing key, the v8.0 image booted
 * from a qcow2 overlay that keeps its writes across reboots and QEMU runs, the bundles
 * attached as read-only drives. Refused bundles write nothing; a good one boots the new
 * slot, with the configuration made before it, and is kept; a slot that fails its health
 * check falls back to the good one; restoring the defaults resets the saved network; a
 * write cut off by killing QEMU leaves the old slot booting.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { buildImage, scratchProject, TEST_CACHE, type ImageSummary } from './build-helpers.js';
import { bootVm, type RunningVm } from '../builder/vm/qemu.js';
import { BOOT_TIMEOUT_MS } from './checks.js';
import { fixedEd25519KeyPem } from '../builder/test-support.js';
import { UPDATE_KEY_VARIABLE } from '../builder/update/signing-key.js';
import { applyNextBundle, APPLY_TIMEOUT_MS, NEXT_VERSION, NEXT_VERSION_PATTERN, rebundled, tamperedBundle, type SlotStatus } from './update-bundles.js';

const KEY_LABEL = 'lbbuild update test';
const SLOT_B = '/dev/disk/by-partlabel/root-b';
/** The address set before the update, which the updated slot must have. */
const KEPT_ADDRESS = '192.168.2.30/24';

let work: string;
let current: ImageSummary;
let next: ImageSummary;
const artifact = (summary: ImageSummary, suffix: string) => summary.artifacts.find((a) => a.file.endsWith(suffix))!.file;

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'lbbuild-update-'));
  const key = path.join(work, 'update-key.pem');
  await writeFile(key, fixedEd25519KeyPem(KEY_LABEL));
  const env = { [UPDATE_KEY_VARIABLE]: key };
  // The audit has its own test; these images differ from the default only by the key and the version.
  current = await buildImage(['--target', 'raw,update', '--no-audit', '--out', path.join(work, 'current'), '--cache', TEST_CACHE], { env });
  const recipe = path.join(await scratchProject(), 'recipes', 'appliance-next.yaml');
  await writeFile(recipe, `extends: appliance.yaml\nversion: "${NEXT_VERSION}"\n`);
  next = await buildImage(['--recipe', recipe, '--target', 'update', '--no-audit', '--out', path.join(work, 'next'), '--cache', TEST_CACHE], { env });
  await rm(path.dirname(path.dirname(recipe)), { recursive: true });
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('signed A/B updates of a running appliance', () => {
  let overlay: string;
  let drives: Array<{ file: string; serial: string }>;
  let vm: RunningVm;
  const drive = (serial: string) => `/dev/disk/by-id/virtio-${serial}`;

  const boot = async () => {
    vm = await bootVm({ image: overlay, format: 'qcow2', persistent: true, allowReboot: true, extraDrives: drives });
    await loggedIn();
  };
  const loggedIn = async () => {
    await vm.console.expect(/lbmaster login: $/m, BOOT_TIMEOUT_MS);
    await vm.console.login('root', 'loadbalancer');
    await vm.console.prepareShell();
    await vm.console.run('systemctl is-system-running --wait', BOOT_TIMEOUT_MS);
  };
  const status = async (): Promise<SlotStatus> => JSON.parse(await vm.console.check('lb-update status --json')) as SlotStatus;
  const slotHealth = () => vm.console.run('systemctl is-active lb-slot-health', 180_000);

  before(async () => {
    overlay = path.join(work, 'appliance.qcow2');
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', artifact(current, '.raw'), overlay]);
    const good = artifact(next, '.lbupdate');
    drives = [
      { file: good, serial: 'next' },
      { file: artifact(current, '.lbupdate'), serial: 'current' },
      { file: await tamperedBundle(good, work), serial: 'tampered' },
      { file: await rebundled(good, work, 'other-model', { model: 'r20', keyLabel: KEY_LABEL }), serial: 'othermodel' },
      { file: await rebundled(good, work, 'other-key', { keyLabel: 'someone else' }), serial: 'otherkey' },
    ];
    await boot();
  });
  after(async () => {
    await vm?.stop();
  });

  test('the factory state: slot A holds v8.0, good and running; slot B is empty', async () => {
    assert.equal((await slotHealth()).output.trim(), 'active');
    assert.deepEqual(await status(), { booted: 'A', next: 'A', slots: { A: { version: '8.0', state: 'good' }, B: { version: '', state: 'empty' } } });
    assert.match(await vm.console.check('lb-update status'), /^slot A: 8\.0 +good, running\nslot B: - +holds no bootable version\nnext boot: slot A$/);
  });

  test('a tampered bundle, one for another model and one signed with another key are refused, and nothing is written', async () => {
    const c = vm.console;
    const grubenv = await c.check('grub-editenv /boot/efi/grub/grubenv list');
    for (const [serial, reason] of [
      ['tampered', /does not match its signed sha256: the bundle is damaged; nothing was written/],
      ['othermodel', /the bundle is for model 'r20'; this appliance is model 'virtual'; nothing was written/],
      ['otherkey', /does not verify with this appliance's update key: the bundle was changed, or signed with another key; nothing was written/],
    ] as const) {
      const refused = await c.run(`lb-update apply ${drive(serial)}`, APPLY_TIMEOUT_MS);
      assert.equal(refused.status, 2, `${serial}: ${refused.output}`);
      assert.match(refused.output, reason);
    }
    assert.equal(await c.check('grub-editenv /boot/efi/grub/grubenv list'), grubenv, 'grubenv unchanged');
    assert.equal((await c.run(`cmp -s -n ${16 * 1024 * 1024} ${SLOT_B} /dev/zero`)).status, 0, 'slot B still empty');
    const usage = await c.run('lb-update apply');
    assert.equal(usage.status, 2);
    assert.match(usage.output, /apply needs the bundle: lb-update apply FILE/);
  });

  test(`the v${NEXT_VERSION} bundle: written to slot B, booted once, marked good, with the configuration made before; v8.0 kept in slot A`, async (t) => {
    const c = vm.console;
    // Configuration an update must keep: an address (as the wizard sets it), a service, a password, the host keys.
    await c.check(`lb-apply-network --address ${KEPT_ADDRESS}`);
    await c.check('lbcli --action add-vip --layer 7 --vip kept --ip 192.168.2.40 --ports 80 --mode http');
    await c.check(`usermod -p "$(openssl passwd -6 -salt keptsalt Kept-Pass-42)" setup`);
    const kept = () => c.check('getent shadow setup | cut -d: -f2; ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub; lbcli --action list --json');
    const before = await kept();
    const writeSeconds = await applyNextBundle(c, drive('next'));
    const written = Date.now();
    await loggedIn();
    t.diagnostic(`update: ${writeSeconds} s to check and write the slot, ${Math.round((Date.now() - written) / 1000)} s to reboot into it`);
    assert.match(await c.check('cat /proc/cmdline'), /(^| )lb\.slot=B( |$)/);
    assert.match(await c.check('cat /etc/loadbalancer/version'), new RegExp(` v${NEXT_VERSION_PATTERN}$`));
    assert.equal((await slotHealth()).output.trim(), 'active');
    assert.deepEqual(await status(), {
      booted: 'B',
      next: 'B',
      slots: { A: { version: '8.0', state: 'good' }, B: { version: NEXT_VERSION, state: 'good' } },
    });
    assert.equal(await kept(), before, 'the password, the host key and the services are those made before the update');
    assert.match(await c.check('ip -4 -o addr show dev eth0'), new RegExp(` inet ${KEPT_ADDRESS.replaceAll('.', '\\.')} `));
  });

  test('a new slot whose services do not come up is left: the appliance reboots into the good slot, and status says so', async () => {
    const c = vm.console;
    // v8.0 into slot A, then its HAProxy masked there: A's health check fails on its try.
    await c.check(`lb-update apply --no-reboot ${drive('current')}`, APPLY_TIMEOUT_MS);
    await c.check('mount /dev/disk/by-partlabel/root-a /mnt && ln -sf /dev/null /mnt/etc/systemd/system/haproxy.service && umount /mnt');
    c.sendLine('reboot');
    // A boots to its login prompt, then lb-slot-health finds HAProxy down and reboots into B.
    await c.expect(/lbmaster login: $/m, BOOT_TIMEOUT_MS);
    await loggedIn();
    assert.match(await c.check('cat /proc/cmdline'), /(^| )lb\.slot=B( |$)/);
    assert.equal((await slotHealth()).output.trim(), 'active');
    assert.deepEqual(await status(), {
      booted: 'B',
      next: 'B',
      slots: { A: { version: '8.0', state: 'failed-try' }, B: { version: NEXT_VERSION, state: 'good' } },
    });
    assert.match(await c.check('lb-update status'), /^slot A: 8\.0 +failed its trial boot: passed over\n/);
  });

  test("restore manufacturer's defaults: eth0 back to 192.168.2.21/24, on the data partition too; both slots kept", async () => {
    const c = vm.console;
    const slots = await status();
    await c.check('lb-restore-defaults');
    assert.match(await c.check('ip -4 -o addr show dev eth0'), / inet 192\.168\.2\.21\/24 /);
    const saved = await c.check(
      'd=$(mktemp -d) && mount -o ro /dev/disk/by-partlabel/data "$d" && tar -xOf "$d/state.tar" etc/systemd/network/10-eth0.network; umount "$d"; rmdir "$d"',
    );
    assert.match(saved, /^Address=192\.168\.2\.21\/24$/m);
    assert.deepEqual(await status(), slots);
  });

  test('QEMU killed while a slot is written: the next boot is the running slot, and the cut-off slot is not bootable', async () => {
    vm.console.sendLine(`lb-update apply ${drive('current')}`);
    await vm.console.expect(/lb-update: writing v8\.0 to slot A/, APPLY_TIMEOUT_MS);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await vm.stop();
    await boot();
    assert.match(await vm.console.check('cat /proc/cmdline'), /(^| )lb\.slot=B( |$)/);
    const after = await status();
    assert.equal(after.booted, 'B');
    assert.equal(after.slots.A.state, 'empty');
    assert.deepEqual(after.slots.B, { version: NEXT_VERSION, state: 'good' });
  });
});
