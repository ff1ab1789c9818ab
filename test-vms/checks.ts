/**
 * The appliance checks: what the v8 quick start guide says a freshly booted appliance
 * does, exercised over the serial console and the forwarded WUI ports. Each check is
 * a step of one session, in order, since later steps build on earlier ones (the wizard
 * changes the address, lb-restore-defaults brings it back, lbsecure changes passwords).
 */
import assert from 'node:assert/strict';
import type { RunningVm } from '../builder/vm/qemu.js';
import { GUEST_ADDRESS } from '../builder/vm/qemu.js';
import { httpGet } from './http.js';

export const WUI_HTTP = 9080;
export const WUI_HTTPS = 9443;
export const BOOT_TIMEOUT_MS = 8 * 60_000;

export interface Session {
  vm: RunningVm;
  /** Facts later checks (or the caller) compare against. */
  facts: { hostKey?: string; machineId?: string; bootSeconds?: number };
}

export interface Check {
  name: string;
  run(session: Session): Promise<void>;
}

const NEW_PASSWORDS = { root: 'Sec-root-7731', loadbalancer: 'Sec-wui-7731', setup: 'Sec-setup-7731' };

const wuiUrl = (s: Session, scheme: 'http' | 'https') =>
  `${scheme}://127.0.0.1:${s.vm.hostPort.get(scheme === 'http' ? WUI_HTTP : WUI_HTTPS)}/lbadmin/`;

async function loginRoot(s: Session, password = 'loadbalancer'): Promise<void> {
  await s.vm.console.login('root', password);
  await s.vm.console.prepareShell();
}

async function logout(s: Session): Promise<void> {
  s.vm.console.sendLine('exit');
  await s.vm.console.expect(/login: $/m, 60_000);
}

async function expectWui(s: Session, user: string, password: string): Promise<void> {
  for (const scheme of ['http', 'https'] as const) {
    const url = wuiUrl(s, scheme);
    assert.equal((await httpGet(url)).status, 401, `${url} without credentials`);
    assert.equal((await httpGet(url, { user, password: 'wrong' })).status, 401, `${url} with a wrong password`);
    // The page asks lbcli for the services' status: seconds under TCG on a busy host.
    const page = await httpGet(url, { user, password, timeoutMs: 60_000 });
    assert.equal(page.status, 200, `${url} with ${user}'s password`);
    assert.match(page.body, /Loadbalancer\.org Enterprise VA v8\.0/, 'the status page shows the version');
    assert.match(page.body, /haproxy<\/th><td>active/, 'the status page shows haproxy running');
  }
}

/** Checks one boot of the BIOS or UEFI image: banner, login, services. */
export const bootChecks: Check[] = [
  {
    name: 'console banner, hostname and login prompt',
    async run(s) {
      const started = Date.now();
      const { before } = await s.vm.console.expect(/lbmaster login: $/m, BOOT_TIMEOUT_MS);
      s.facts.bootSeconds = Math.round((Date.now() - started) / 1000);
      const banner = before.slice(before.lastIndexOf('Welcome to the Loadbalancer.org appliance.'));
      assert.ok(banner.startsWith('Welcome'), 'banner "Welcome to the Loadbalancer.org appliance." printed');
      for (const line of [
        'To perform initial network configuration, log in to the console as',
        'Username: setup',
        'Password: setup',
        'To access the web interface and wizard, point your browser at',
        `http://${GUEST_ADDRESS}:9080/`,
        `https://${GUEST_ADDRESS}:9443/`,
      ]) assert.ok(banner.includes(line), `banner line "${line}"`);
    },
  },
  {
    name: 'root logs in; no failed systemd units',
    async run(s) {
      await loginRoot(s);
      const state = await s.vm.console.run('systemctl is-system-running --wait', 180_000);
      const failed = await s.vm.console.check('systemctl list-units --failed --no-legend --plain');
      assert.equal(failed, '', `failed units:\n${failed}`);
      assert.equal(state.output, 'running');
      assert.equal(await s.vm.console.check('hostname'), 'lbmaster');
    },
  },
  {
    name: 'first boot made this instance its own machine-id and SSH host keys',
    async run(s) {
      s.facts.machineId = await s.vm.console.check('cat /etc/machine-id');
      assert.match(s.facts.machineId, /^[0-9a-f]{32}$/);
      s.facts.hostKey = await s.vm.console.check('ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub');
      await s.vm.console.check('systemctl is-active ssh');
    },
  },
];

/** The rest of the guide's behaviour, after bootChecks in the same session. */
export const applianceChecks: Check[] = [
  {
    name: 'eth0 is the first NIC with 192.168.2.21/24; eth1-eth3 present and unconfigured',
    async run(s) {
      assert.equal(await s.vm.console.check('cat /sys/class/net/eth0/address'), s.vm.mac(0));
      assert.match(await s.vm.console.check('ip -4 -o addr show dev eth0'), / 192\.168\.2\.21\/24 /);
      for (const n of [1, 2, 3]) {
        assert.equal(await s.vm.console.check(`cat /sys/class/net/eth${n}/address`), s.vm.mac(n));
        assert.equal(await s.vm.console.check(`ip -4 -o addr show dev eth${n}`), '');
      }
    },
  },
  {
    name: 'HAProxy, STunnel, ldirectord/LVS and heartbeat are installed with valid configurations',
    async run(s) {
      await s.vm.console.check('haproxy -c -f /etc/haproxy/haproxy.cfg');
      await s.vm.console.check('systemctl is-active haproxy lighttpd');
      await s.vm.console.check('command -v stunnel4 ldirectord ipvsadm');
      await s.vm.console.check('test -x /usr/libexec/heartbeat/heartbeat');
      await s.vm.console.check('ipvsadm -A -t 10.99.0.1:80 -s wlc && ipvsadm -a -t 10.99.0.1:80 -r 10.99.0.2:80 -g && ipvsadm -C');
      await s.vm.console.check('test -f /etc/ha.d/ha.cf -a -f /etc/ha.d/ldirectord.cf');
    },
  },
  {
    name: 'Pound (built from source) runs and answers on its default listener',
    async run(s) {
      const c = s.vm.console;
      await c.check('systemctl is-active pound');
      await c.check('pound -c -f /etc/pound.cfg');
      const status = await c.check(`exec 3<>/dev/tcp/127.0.0.1/8081; printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; head -n 1 <&3; exec 3<&-`);
      assert.match(status, /^HTTP\/1\.[01] 503/);
    },
  },
  {
    name: 'WUI answers 401 without and 200 with credentials on 9080 and 9443',
    async run(s) {
      await expectWui(s, 'loadbalancer', 'loadbalancer');
    },
  },
  {
    name: 'Network Setup Wizard: setup/setup, an invalid entry re-prompts, the new address is applied',
    async run(s) {
      const c = s.vm.console;
      await logout(s);
      await c.login('setup', 'setup');
      await c.expect('Loadbalancer.org basic network set up', 30_000);
      await c.expect('Static IP address (eg. 192.168.0.26) : ', 10_000);
      c.sendLine('192.168.300.23/18');
      await c.expect(/Invalid address '192\.168\.300\.23\/18'.*\n/, 10_000);
      await c.expect('Static IP address (eg. 192.168.0.26) : ', 10_000);
      c.sendLine('192.168.67.23/18');
      await c.expect('Default gateway (eg. 192.168.0.1) : ', 10_000);
      c.sendLine('10.0.0.1');
      await c.expect(/Invalid gateway '10\.0\.0\.1'.*\n/, 10_000);
      await c.expect('Default gateway (eg. 192.168.0.1) : ', 10_000);
      c.sendLine('192.168.64.1');
      await c.expect('Primary (eg. 192.168.0.250) : ', 10_000);
      c.sendLine('192.168.64.1');
      await c.expect('Secondary (Leave blank to omit) : ', 10_000);
      c.sendLine('');
      const { before } = await c.expect('Press any key...', 60_000);
      for (const line of [
        'Summary of settings',
        'Static IP address: 192.168.67.23/18',
        'Default gateway: 192.168.64.1',
        'DNS servers: 192.168.64.1',
        'http://192.168.67.23:9080/lbadmin/',
      ]) assert.ok(before.includes(line), `summary line "${line}"`);
      c.send('x');
      await c.expect(/login: $/m, 30_000);
      await loginRoot(s);
      assert.match(await c.check('ip -4 -o addr show dev eth0'), / 192\.168\.67\.23\/18 /);
      assert.match(await c.check('ip route show default'), /default via 192\.168\.64\.1 dev eth0/);
      assert.equal(await c.check('cat /etc/resolv.conf'), 'nameserver 192.168.64.1');
      assert.match(await c.check('cat /etc/systemd/network/10-eth0.network'), /Address=192\.168\.67\.23\/18/);
    },
  },
  {
    name: "lb-restore-defaults resets eth0 to 192.168.2.21/24 (the WUI is reachable again)",
    async run(s) {
      await s.vm.console.check('lb-restore-defaults');
      assert.match(await s.vm.console.check('ip -4 -o addr show dev eth0'), / 192\.168\.2\.21\/24 /);
      await expectWui(s, 'loadbalancer', 'loadbalancer');
    },
  },
  {
    name: 'lbsecure: new passwords, management locked to a subnet, new SSH host keys',
    async run(s) {
      const c = s.vm.console;
      const before = await c.check('ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub');
      const passwords = Object.entries(NEW_PASSWORDS).map(([u, p]) => `${u}:${p}`).join('\\n');
      // Bad input is refused before anything changes: an option without its value, a bad subnet.
      const noValue = await c.run('lbsecure --non-interactive --allow-from 2>&1');
      assert.equal(noValue.status, 2, noValue.output);
      assert.match(noValue.output, /--allow-from needs a value/);
      const badSubnet = await c.run(`printf '${passwords}\\n' | lbsecure --non-interactive --allow-from 10.99.0.0/33 2>&1`, 120_000);
      assert.equal(badSubnet.status, 2, badSubnet.output);
      await c.check('test ! -e /etc/nftables.d/lbsecure.nft'); // no lockdown written
      assert.equal(await c.check('ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub'), before, 'host keys kept');
      const networkNoValue = await c.run('lb-apply-network --address 2>&1');
      assert.equal(networkNoValue.status, 2, networkNoValue.output);
      assert.match(networkNoValue.output, /--address needs a value/);
      await c.check(`printf '${passwords}\\n' | lbsecure --non-interactive --allow-from 10.99.0.0/16`, 120_000);
      const after = await c.check('ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub');
      assert.notEqual(after, before, 'host keys regenerated');
      await c.check('systemctl is-active ssh nftables');
      // The host reaches the guest from 192.168.2.2, outside 10.99.0.0/16: locked out.
      await assert.rejects(httpGet(wuiUrl(s, 'http'), { timeoutMs: 5000 }), 'WUI blocked from outside the allowed subnet');
      // Allowing the host's subnet opens it again, now with the new WUI password.
      await c.check(`printf '${passwords}\\n' | lbsecure --non-interactive --keep-host-keys --allow-from 192.168.2.0/24`, 120_000);
      assert.equal(await c.check('ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub'), after, '--keep-host-keys keeps them');
      assert.equal((await httpGet(wuiUrl(s, 'http'), { user: 'loadbalancer', password: 'loadbalancer' })).status, 401);
      await expectWui(s, 'loadbalancer', NEW_PASSWORDS.loadbalancer);
      await logout(s);
      await c.login('root', 'loadbalancer');
      await c.expect('Login incorrect', 30_000);
      await c.expect(/login: $/m, 30_000);
      await loginRoot(s, NEW_PASSWORDS.root);
    },
  },
];

/** For images booting the kernel the kernel stage built (the default appliance). */
export const builtKernelChecks: Check[] = [
  {
    name: 'the appliance kernel: release -lbbuild, IPVS and nftables as signed modules, an unsigned module refused',
    async run(s) {
      const c = s.vm.console;
      assert.match(await c.check('uname -r'), /-lbbuild$/);
      // ipvsadm's virtual service is applianceChecks'; here the scheduler module and the ip_vs it needs load signed.
      await c.check('modprobe ip_vs_sed');
      const modules = await c.check('lsmod');
      for (const name of ['ip_vs', 'ip_vs_sed', 'nf_tables']) assert.match(modules, new RegExp(`^${name} `, 'm'), `${name} is loaded`);
      // The same module with its appended signature cut off: [signature][12-byte trailer, big-endian length at 8][marker].
      const strip =
        'm=$(modinfo -n ip_vs_nq); n=$(stat -c %s "$m"); ' +
        "len=$(tail -c 32 \"$m\" | head -c 4 | od -An -tu1 | awk '{print $1*16777216+$2*65536+$3*256+$4}'); " +
        'head -c $((n - 40 - len)) "$m" > /root/unsigned.ko';
      await c.check(strip);
      const unsigned = await c.run('insmod /root/unsigned.ko');
      assert.notEqual(unsigned.status, 0, 'insmod of the unsigned module failed');
      assert.match(unsigned.output, /Key was rejected by service/);
      await c.check('rm /root/unsigned.ko && modprobe ip_vs_nq && lsmod | grep -q "^ip_vs_nq "');
      assert.equal(await c.check('cat /proc/sys/kernel/tainted'), '0', 'no unsigned or out-of-tree code was loaded');
    },
  },
];
