/**
 * The hardening of the appliance (overlays/hardening), checked in the booted guest:
 * kernel settings, the SSH daemon's effective configuration, the firewall's default
 * policy, audit logging and mount options. Runs in the session of checks.ts, after
 * bootChecks (root is logged in).
 */
import assert from 'node:assert/strict';
import type { Check } from './checks.js';
import { httpGet } from './http.js';

/** A guest port no rule opens; the tests forward it to see the firewall drop it. */
export const PROBE_PORT = 8000;

const SYSCTL = {
  'kernel.kptr_restrict': '2',
  'kernel.dmesg_restrict': '1',
  'kernel.yama.ptrace_scope': '1',
  'kernel.unprivileged_bpf_disabled': '1',
  'fs.suid_dumpable': '0',
  'fs.protected_symlinks': '1',
  'net.ipv4.conf.all.rp_filter': '1',
  'net.ipv4.conf.all.accept_redirects': '0',
  'net.ipv4.conf.all.send_redirects': '0',
  'net.ipv4.conf.all.accept_source_route': '0',
  'net.ipv4.conf.all.log_martians': '1',
  'net.ipv4.tcp_syncookies': '1',
};

const SSHD = {
  permitrootlogin: 'yes',
  loglevel: 'VERBOSE',
  maxauthtries: '3',
  x11forwarding: 'no',
  allowtcpforwarding: 'no',
  allowagentforwarding: 'no',
  tcpkeepalive: 'no',
  compression: 'no',
};

export const hardeningChecks: Check[] = [
  {
    name: 'hardening: kernel and network settings of /etc/sysctl.d are in force',
    async run(s) {
      const names = Object.keys(SYSCTL);
      const values = (await s.vm.console.check(`sysctl -n ${names.join(' ')}`)).split('\n');
      assert.deepEqual(Object.fromEntries(names.map((name, n) => [name, values[n]])), SYSCTL);
      assert.equal(await s.vm.console.check('ulimit -H -c'), '0', 'no core dumps for login sessions');
    },
  },
  {
    name: 'hardening: sshd runs with the hardened settings (root login as the guide documents)',
    async run(s) {
      const effective = new Map(
        (await s.vm.console.check('sshd -T')).split('\n').map((line) => {
          const [key = '', ...value] = line.trim().split(' ');
          return [key, value.join(' ')] as const;
        }),
      );
      for (const [key, value] of Object.entries(SSHD)) assert.equal(effective.get(key), value, `sshd -T ${key}`);
    },
  },
  {
    name: 'hardening: the firewall drops ports no rule opens; the virtual-services set opens them',
    async run(s) {
      const c = s.vm.console;
      assert.match(await c.check('nft list chain inet appliance input'), /type filter hook input priority filter; policy drop;/);
      const url = `http://127.0.0.1:${s.vm.hostPort.get(PROBE_PORT)}/`;
      await c.check(`mkdir -p /run/probe && (python3 -m http.server ${PROBE_PORT} --directory /run/probe >/dev/null 2>&1 & echo $! >/run/probe.pid)`);
      try {
        // In a subshell: an exit here must not end the login shell.
        await c.check(`(for i in $(seq 50); do ss -Htln "sport = :${PROBE_PORT}" | grep -q . && exit 0; sleep 0.2; done; exit 1)`);
        await assert.rejects(httpGet(url, { timeoutMs: 5000 }), 'a listening port outside every rule is not reachable');
        await c.check(`nft add element inet appliance services_tcp { ${PROBE_PORT} }`);
        assert.equal((await httpGet(url, { timeoutMs: 15_000 })).status, 200, 'reachable once in services_tcp');
      } finally {
        await c.check(`kill $(cat /run/probe.pid); nft delete element inet appliance services_tcp { ${PROBE_PORT} } 2>/dev/null; true`);
      }
    },
  },
  {
    name: 'hardening: auditd runs with the appliance rules; /tmp and /dev/shm are nosuid, nodev, noexec',
    async run(s) {
      const c = s.vm.console;
      await c.check('systemctl is-active auditd');
      assert.match(await c.check('auditctl -l'), /^-w \/etc\/shadow -p wa -k identity$/m);
      for (const mount of ['/tmp', '/dev/shm']) {
        const options = (await c.check(`findmnt -no FSTYPE,OPTIONS ${mount}`)).split(/[\s,]+/);
        assert.equal(options[0], 'tmpfs', `${mount} is a tmpfs`);
        for (const option of ['nosuid', 'nodev', 'noexec']) assert.ok(options.includes(option), `${mount} mounted ${option}: ${options}`);
      }
    },
  },
];
