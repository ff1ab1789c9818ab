/**
 * The load balancer under test: the built image with eth0 on "front" and eth1 on "back",
 * root logged in on the serial console, lbcli run there. The guest may reboot within its
 * QEMU process, keeping what it wrote.
 */
import { bootVm, type RunningVm, type SerialLink } from '../builder/vm/qemu.js';
import { BOOT_TIMEOUT_MS } from './checks.js';
import type { L2Network } from './l2-network.js';
import { shellQuote } from './shell-quote.js';

export const LB_ADDRESS = '192.168.2.21';

export interface LbcliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export interface LoadBalancerVm {
  vm: RunningVm;
  /** Runs `lbcli --action ACTION ARGS...` as root in the guest. */
  lbcli(action: string, args?: string[]): Promise<LbcliResult>;
  /** `lbcli --action ACTION --json ARGS...`, which must succeed; its JSON answer. */
  lbcliJson<T = unknown>(action: string, args?: string[]): Promise<T>;
  /** Reboots the guest and logs in again. */
  reboot(): Promise<void>;
  stop(): Promise<void>;
}

const STDERR_MARK = '__lbcli_stderr__';
// ha-pair and lbsecure on a pair talk to the peer both ways: minutes under TCG on a busy host.
const LBCLI_TIMEOUT_MS = 300_000;

export interface LoadBalancerOptions {
  /** Names its taps NAME-eth0 and NAME-eth1; several load balancers need distinct ones. */
  name?: string;
  /** See VmOptions.macByte: distinct for each VM on the network. */
  macByte?: number;
  /** eth0's tap starts unplugged (network.plug), e.g. until the VM has an address of its own. */
  unplugged?: boolean;
  /** The disk is a qcow2 overlay of the caller's, kept from one QEMU to the next. */
  persistentQcow2?: boolean;
  serialLink?: SerialLink;
  /** Its taps are there already: the same VM powered on again. */
  tapsExist?: boolean;
}

export async function bootLoadBalancer(network: L2Network, image: string, options: LoadBalancerOptions = {}): Promise<LoadBalancerVm> {
  const { name = 'lb', macByte, unplugged = false, persistentQcow2 = false, serialLink, tapsExist = false } = options;
  const devices = tapsExist
    ? [`${name}-eth0`, `${name}-eth1`]
    : [await network.addTap(unplugged ? null : 'front', `${name}-eth0`), await network.addTap('back', `${name}-eth1`)];
  const vm = await bootVm({
    image,
    taps: { namespace: network.namespace, devices },
    allowReboot: true,
    ...(macByte === undefined ? {} : { macByte }),
    ...(persistentQcow2 ? { format: 'qcow2' as const, persistent: true } : {}),
    ...(serialLink ? { serialLink } : {}),
  });
  const c = vm.console;
  const logIn = async () => {
    // lbmaster, or lbslave once paired
    await c.expect(/^lb\w+ login: $/m, BOOT_TIMEOUT_MS);
    await c.login('root', 'loadbalancer');
    await c.prepareShell();
    // The daemons start after the login prompts (overlays/appliance); lbcli drives them.
    await c.run('systemctl is-system-running --wait', BOOT_TIMEOUT_MS);
  };
  try {
    await logIn();
  } catch (error) {
    await vm.stop();
    throw error;
  }
  const lbcli = async (action: string, args: string[] = []): Promise<LbcliResult> => {
    const command = ['lbcli', '--action', action, ...args].map(shellQuote).join(' ');
    const { output, status } = await c.run(
      `${command} >/tmp/lbcli.out 2>/tmp/lbcli.err; s=$?; cat /tmp/lbcli.out; echo; echo ${STDERR_MARK}; cat /tmp/lbcli.err; (exit $s)`,
      LBCLI_TIMEOUT_MS,
    );
    const [stdout = '', stderr = ''] = output.split(STDERR_MARK);
    return { status, stdout: stdout.trim(), stderr: stderr.trim() };
  };
  return {
    vm,
    lbcli,
    async lbcliJson<T>(action: string, args: string[] = []) {
      const result = await lbcli(action, ['--json', ...args]);
      if (result.status !== 0) throw new Error(`lbcli --action ${action} ${args.join(' ')} exited ${result.status}: ${result.stderr || result.stdout}`);
      return JSON.parse(result.stdout) as T;
    },
    async reboot() {
      c.sendLine('reboot');
      await logIn();
    },
    stop: () => vm.stop(),
  };
}
