/**
 * The virtual services in the WUI (issue #10): the System Overview's table of virtual and
 * real servers with the guide's states, and the JSON API at /lbadmin/api/, driven from the
 * host through the forwarded WUI ports and compared with lbcli on the console of one boot.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildImage, TEST_CACHE } from './build-helpers.js';
import { bootVm, type RunningVm } from '../builder/vm/qemu.js';
import { BOOT_TIMEOUT_MS, WUI_HTTP, WUI_HTTPS } from './checks.js';
import { httpGet, httpPostForm, type HttpAnswer } from './http.js';

/** The CGIs run lbcli, which takes seconds under TCG on a busy host. */
const WUI = { user: 'loadbalancer', password: 'loadbalancer', timeoutMs: 60_000 };
const NEW_PASSWORDS = { root: 'Svc-root-4417', loadbalancer: 'Svc-wui-4417', setup: 'Svc-setup-4417' };
/** Applying a change reloads daemons, which takes seconds under TCG. */
const CHANGE_TIMEOUT_MS = 120_000;
/** A RIP whose address nothing in QEMU's user network answers. */
const SILENT_RIP = { rip: 'SILENT', ip: '192.168.2.31', port: '80' };
/** A RIP served by a responder the test starts inside the appliance. */
const LOCAL_RIP = { rip: 'LOCAL', ip: '127.0.0.1', port: '8088' };
const RESPONDER = String.raw`perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 8088, Listen => 16, ReuseAddr => 1) or die $!; while ($c = $s->accept) { sysread $c, $b, 4096; print $c "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nlocal\n"; close $c }'`;

interface RipStatus { label: string; ip: string; port?: number; weight: number; health: string; connections: number }
interface VipStatus { label: string; ip: string; ports: number[]; state: string; rips: RipStatus[] }
interface Status { vips: VipStatus[] }

let vm: RunningVm;
let out: string;

const baseUrl = (scheme: 'http' | 'https') => `${scheme}://127.0.0.1:${vm.hostPort.get(scheme === 'http' ? WUI_HTTP : WUI_HTTPS)}/lbadmin/`;
const apiUrl = (scheme: 'http' | 'https' = 'http') => `${baseUrl(scheme)}api/`;

function json(answer: HttpAnswer): Record<string, unknown> {
  try {
    return JSON.parse(answer.body);
  } catch {
    throw new Error(`HTTP ${answer.status} without JSON:\n${answer.body}`);
  }
}

async function apiGet(action: string, scheme: 'http' | 'https' = 'http'): Promise<{ status: number; answer: Record<string, unknown> }> {
  const answer = await httpGet(`${apiUrl(scheme)}?action=${action}`, WUI);
  return { status: answer.status, answer: json(answer) };
}

async function apiPost(fields: Record<string, string>): Promise<{ status: number; answer: Record<string, unknown> }> {
  const answer = await httpPostForm(apiUrl(), new URLSearchParams(fields).toString(), { ...WUI, timeoutMs: CHANGE_TIMEOUT_MS });
  return { status: answer.status, answer: json(answer) };
}

async function apiChange(fields: Record<string, string>): Promise<void> {
  const { status, answer } = await apiPost(fields);
  assert.equal(status, 200, `POST ${JSON.stringify(fields)}: ${JSON.stringify(answer)}`);
  assert.equal(answer.error, undefined);
}

/**
 * The last line of a console command's output that matches `pattern`: journald's broadcasts
 * (HAProxy's "proxy WEB has no server available!") may land on the console among it.
 */
function lastLine(output: string, pattern: RegExp): string {
  const line = output.split('\n').filter((l) => pattern.test(l)).at(-1);
  assert.ok(line !== undefined, `no line like ${pattern} in:\n${output}`);
  return line;
}

const JSON_LINE = /^\{.*\}$/;

async function consoleLine(command: string, pattern: RegExp): Promise<string> {
  return lastLine(await vm.console.check(command, CHANGE_TIMEOUT_MS), pattern);
}

async function consoleJson(command: string): Promise<Record<string, unknown>> {
  return JSON.parse(await consoleLine(command, JSON_LINE));
}

/** The System Overview's virtual-services rows: state attributes and the cells beside them. */
async function overview(): Promise<{ vips: string[][]; rips: string[][]; page: string }> {
  const page = await httpGet(baseUrl('http'), WUI);
  assert.equal(page.status, 200);
  const table = /<table id="virtual-services">([\s\S]*?)<\/table>/.exec(page.body)?.[1];
  assert.ok(table !== undefined, 'the overview has the virtual-services table');
  const cells = (row: string) => [...row.matchAll(/<td>(.*?)<\/td>/g)].map((m) => m[1]!);
  const vips = [...table.matchAll(/<tr class="vip" data-vip="([^"]*)" data-state="([^"]*)">(.*)<\/tr>/g)].map(([, vip, state, row]) => [vip!, state!, ...cells(row!)]);
  const rips = [...table.matchAll(/<tr class="rip" data-vip="([^"]*)" data-rip="([^"]*)" data-health="([^"]*)">(.*)<\/tr>/g)].map(([, vip, rip, health, row]) => [vip!, rip!, health!, ...cells(row!)]);
  return { vips, rips, page: page.body };
}

/** What the overview's rows must show for a status: label, state, label, IP, ports; RIPs: VIP, label, health, label, IP, port. */
function expectedRows(status: Status): { vips: string[][]; rips: string[][] } {
  return {
    vips: status.vips.map((v) => [v.label, v.state, v.label, v.ip, v.ports.join(',')]),
    rips: status.vips.flatMap((v) => v.rips.map((r) => [v.label, r.label, r.health, r.label, r.ip, String(r.port ?? '')])),
  };
}

/** Polls the API's status until VIP WEB shows `state` and its RIPs `health` (health checks take a few rounds). */
async function waitForStatus(state: string, health: Record<string, string>): Promise<Status> {
  const deadline = Date.now() + 120_000;
  let last: unknown;
  for (;;) {
    const { status, answer } = await apiGet('status');
    assert.equal(status, 200, JSON.stringify(answer));
    last = answer;
    const web = (answer as unknown as Status).vips.find((v) => v.label === 'WEB');
    const seen = Object.fromEntries(web?.rips.map((r) => [r.label, r.health]) ?? []);
    if (web?.state === state && JSON.stringify(seen) === JSON.stringify(health)) return answer as unknown as Status;
    if (Date.now() > deadline) assert.fail(`VIP WEB did not reach ${state} with ${JSON.stringify(health)} within 120 s; last status:\n${JSON.stringify(last, null, 1)}`);
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
}

/** The API's status (over HTTP and HTTPS), lbcli's on the console and the overview say the same. */
async function assertAgreement(status: Status): Promise<void> {
  const onConsole = await consoleJson('lbcli --action status --json');
  assert.deepEqual(status, onConsole, 'GET ?action=status is what lbcli --action status --json prints');
  assert.deepEqual((await apiGet('status', 'https')).answer, onConsole, 'the same over HTTPS');
  const { vips, rips } = await overview();
  const expected = expectedRows(status);
  assert.deepEqual({ vips: vips.map((r) => r.slice(0, 5)), rips: rips.map((r) => r.slice(0, 6)) }, expected, 'the overview shows the status');
}

describe('virtual services through the WUI: System Overview and /lbadmin/api/', () => {
  before(async () => {
    out = await mkdtemp(path.join(tmpdir(), 'lbbuild-wui-out-'));
    // The same raw disk appliance.test.ts builds (a cache hit); its audit is that test's.
    const image = await buildImage(['--target', 'raw', '--no-audit', '--out', out, '--cache', TEST_CACHE]);
    vm = await bootVm({ image: image.artifacts.find((a) => a.file.endsWith('.raw'))!.file, forwardPorts: [WUI_HTTP, WUI_HTTPS] });
    await vm.console.expect(/lbmaster login: $/m, BOOT_TIMEOUT_MS);
    await vm.console.login('root', 'loadbalancer');
    await vm.console.prepareShell();
    await vm.console.run('systemctl is-system-running --wait', 180_000);
    await vm.console.check('systemctl is-active lighttpd haproxy');
  });
  after(async () => {
    await vm?.stop();
    if (out) await rm(out, { recursive: true, force: true });
  });

  let failed = false;
  const step = (name: string, run: () => Promise<void>) =>
    test(name, async (t) => {
      if (failed) return t.skip('an earlier step of this session failed');
      try {
        await run();
      } catch (error) {
        failed = true;
        t.diagnostic(`console transcript (last 60 lines):\n${vm.console.transcript.split('\n').slice(-60).join('\n')}`);
        throw error;
      }
    });

  step('the API needs the WUI credentials on 9080 and 9443', async () => {
    for (const scheme of ['http', 'https'] as const) {
      const url = `${apiUrl(scheme)}?action=status`;
      assert.equal((await httpGet(url, { timeoutMs: 60_000 })).status, 401, `${url} without credentials`);
      assert.equal((await httpGet(url, { ...WUI, password: 'wrong' })).status, 401, `${url} with a wrong password`);
      assert.equal((await httpPostForm(apiUrl(scheme), 'action=delete-vip&vip=WEB', { timeoutMs: 60_000 })).status, 401, `POST ${apiUrl(scheme)} without credentials`);
    }
    const { status, answer } = await apiGet('status');
    assert.equal(status, 200);
    assert.deepEqual(answer.vips, [], 'a fresh appliance has no virtual service');
    const { page } = await overview();
    assert.match(page, /<tr class="message"><td colspan="9">No virtual services are configured\.<\/td><\/tr>/);
  });

  step('a layer 7 VIP with a RIP nobody answers, added through the API, is all-down (red)', async () => {
    await apiChange({ action: 'add-vip', layer: '7', vip: 'WEB', ip: '192.168.2.50', ports: '80', mode: 'http' });
    await apiChange({ action: 'add-rip', vip: 'WEB', ...SILENT_RIP });
    const { status, answer } = await apiGet('list');
    assert.equal(status, 200);
    assert.deepEqual(answer, await consoleJson('lbcli --action list --json'), 'GET ?action=list is what lbcli --action list --json prints');
    await assertAgreement(await waitForStatus('all-down', { SILENT: 'down' }));
  });

  step('a RIP that answers beside one that does not: needs-attention (yellow), the answering RIP up', async () => {
    await vm.console.check(`(${RESPONDER} &) >/dev/null 2>&1`);
    await apiChange({ action: 'add-rip', vip: 'WEB', ...LOCAL_RIP });
    await assertAgreement(await waitForStatus('needs-attention', { SILENT: 'down', LOCAL: 'up' }));
  });

  step('halting the RIP that is down leaves every online RIP up: healthy (green), that RIP halted', async () => {
    await apiChange({ action: 'halt', vip: 'WEB', rip: 'SILENT' });
    await assertAgreement(await waitForStatus('healthy', { SILENT: 'halted', LOCAL: 'up' }));
  });

  step('draining the last online RIP takes the VIP offline (blue); online brings it back', async () => {
    await apiChange({ action: 'drain', vip: 'WEB', rip: 'LOCAL' });
    await assertAgreement(await waitForStatus('offline', { SILENT: 'halted', LOCAL: 'drained' }));
    const { page } = await overview();
    assert.match(page, /data-rip="SILENT" data-health="halted">.*<td>Online \(Halt\)<\/td><\/tr>/);
    assert.match(page, /data-rip="LOCAL" data-health="drained">.*<td>Online \(Drain\)<\/td><\/tr>/);
    await apiChange({ action: 'online', vip: 'WEB', rip: 'LOCAL' });
    await assertAgreement(await waitForStatus('healthy', { SILENT: 'halted', LOCAL: 'up' }));
  });

  step('bad input through the API is 400 with lbcli\'s message, and changes nothing', async () => {
    const configuration = () => consoleLine('sha256sum /etc/loadbalancer/services.json', /^[0-9a-f]{64} /);
    const before = { file: await configuration(), list: (await apiGet('list')).answer };
    const bad = await apiPost({ action: 'add-rip', vip: 'WEB', rip: 'BAD', ip: '192.168.2.300', port: '80' });
    assert.equal(bad.status, 400, JSON.stringify(bad.answer));
    assert.match(String(bad.answer.error), /--ip/, 'the message names the option');
    const onConsole = await vm.console.run('lbcli --action add-rip --vip WEB --rip BAD --ip 192.168.2.300 --port 80 --json');
    assert.equal(onConsole.status, 2);
    assert.deepEqual(bad.answer, JSON.parse(lastLine(onConsole.output, JSON_LINE)), "the API answers lbcli's own message");
    for (const [fields, message] of [
      [{ action: 'add-vip', layer: '7', vip: 'SELF', ip: '192.168.2.21', ports: '80', mode: 'http' }, /--ip/],
      [{ action: 'add-rip', vip: 'NOSUCH', rip: 'R9', ip: '192.168.2.33', port: '80' }, /NOSUCH/],
      [{ action: 'halt', vip: 'WEB;touch /tmp/lb-wui-injected', rip: '$(touch /tmp/lb-wui-injected)' }, /--vip|--rip/],
      [{ action: 'add-rip', vip: 'WEB', rip: 'R9', ip: '192.168.2.33', colour: 'red' }, /unknown field 'colour'/],
      [{ action: 'reboot' }, /unknown action 'reboot'/],
    ] as const) {
      const { status, answer } = await apiPost(fields);
      assert.equal(status, 400, `POST ${JSON.stringify(fields)}: ${JSON.stringify(answer)}`);
      assert.match(String(answer.error), message);
    }
    const unknownGet = await httpGet(`${apiUrl()}?action=reboot`, WUI);
    assert.equal(unknownGet.status, 400);
    assert.match(String(json(unknownGet).error), /unknown action 'reboot'/);
    const twice = await httpPostForm(apiUrl(), 'action=delete-vip&vip=WEB&vip=WEB', WUI);
    assert.equal(twice.status, 400);
    assert.match(String(json(twice).error), /'vip' is given more than once/);
    await vm.console.check('test ! -e /tmp/lb-wui-injected');
    assert.equal(await configuration(), before.file, 'services.json is unchanged');
    assert.deepEqual((await apiGet('list')).answer, before.list, 'the configuration lbcli lists is unchanged');
  });

  step('delete-rip and delete-vip through the API; the overview then lists no virtual service', async () => {
    await apiChange({ action: 'delete-rip', vip: 'WEB', rip: 'SILENT' });
    await assertAgreement(await waitForStatus('healthy', { LOCAL: 'up' }));
    await apiChange({ action: 'delete-vip', vip: 'WEB' });
    const { answer } = await apiGet('status');
    assert.deepEqual(answer.vips, []);
    assert.deepEqual(answer, await consoleJson('lbcli --action status --json'));
    const rows = await overview();
    assert.deepEqual([rows.vips, rows.rips], [[], []]);
  });

  step('add-floating-ip through the API with its interface: on eth1, in the status and the overview', async () => {
    await apiChange({ action: 'add-floating-ip', ip: '10.1.0.1/24', interface: 'eth1' });
    await vm.console.check(`timeout 30 sh -c 'until ip -4 -o addr show dev eth1 | grep -q " 10.1.0.1/24 "; do sleep 1; done'`);
    const { answer } = await apiGet('status');
    assert.deepEqual(answer.floatingIps, [{ ip: '10.1.0.1/24', interface: 'eth1' }]);
    const { page } = await overview();
    assert.match(page, /<table id="floating-ips">\n<tr><th>IP<\/th><th>Interface<\/th><\/tr>\n<tr><td>10\.1\.0\.1\/24<\/td><td>eth1<\/td><\/tr>\n<\/table>/);
  });

  step('after lbsecure --allow-from 10.9.9.0/24 the API is unreachable from the host, as the rest of the WUI', async () => {
    // Without credentials lighttpd answers 401 at once, running no CGI: a quick answer while open.
    const probes = (['http', 'https'] as const).flatMap((scheme) => [
      [`GET ${apiUrl(scheme)}`, () => httpGet(`${apiUrl(scheme)}?action=status`, { timeoutMs: 20_000 })],
      [`POST ${apiUrl(scheme)}`, () => httpPostForm(apiUrl(scheme), 'action=delete-vip&vip=WEB', { timeoutMs: 20_000 })],
      [`GET ${baseUrl(scheme)}`, () => httpGet(baseUrl(scheme), { timeoutMs: 20_000 })],
    ] as const);
    for (const [name, probe] of probes) assert.equal((await probe()).status, 401, `${name} answers before lbsecure`);
    const passwords = Object.entries(NEW_PASSWORDS).map(([u, p]) => `${u}:${p}`).join('\\n');
    await vm.console.check(`printf '${passwords}\\n' | lbsecure --non-interactive --allow-from 10.9.9.0/24`, CHANGE_TIMEOUT_MS);
    // The host's requests arrive from QEMU's 192.168.2.2, outside 10.9.9.0/24.
    for (const [name, probe] of probes) await assert.rejects(probe(), `${name} is blocked`);
    // From the appliance itself (loopback) the API still answers, with the new password.
    const credentials = Buffer.from(`loadbalancer:${NEW_PASSWORDS.loadbalancer}`).toString('base64');
    const local = await vm.console.check(
      `exec 3<>/dev/tcp/127.0.0.1/9080; printf 'GET /lbadmin/api/?action=list HTTP/1.0\\r\\nAuthorization: Basic ${credentials}\\r\\n\\r\\n' >&3; head -n 1 <&3; exec 3<&-`,
    );
    assert.match(local, /^HTTP\/1\.[01] 200/m);
  });
});
