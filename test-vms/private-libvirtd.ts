/**
 * A private libvirtd for tests.
 *
 * The daemon runs as root (qemu:///system semantics) without systemd, in its own mount
 * namespace: /etc/libvirt, /var/lib/libvirt, /run/libvirt, /var/log/libvirt and
 * /var/cache/libvirt are the test's folders bind-mounted there, and its sockets are in
 * the test's folder, so it neither sees nor changes the host's libvirt state and no
 * system daemon has to run.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';

/** Where the daemon's state lives on the host; mount points are created if missing. */
const LIBVIRT_DIRS: Record<string, string> = {
  etc: '/etc/libvirt',
  lib: '/var/lib/libvirt',
  run: '/run/libvirt',
  log: '/var/log/libvirt',
  cache: '/var/cache/libvirt',
};

/** The only driver the daemon loads: no network, storage or other hypervisor drivers. */
const QEMU_DRIVER = '/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so';

/**
 * Runs in the daemon's mount namespace, with the test's folder as $1 and
 * "private-folder:host-folder" pairs after it. The QEMU driver looks up the
 * libvirt-qemu account at start-up even when qemu.conf runs QEMU as root; that
 * account comes with libvirt-daemon-system, which would also start the system
 * daemon and its NAT bridge, so where it is missing the namespace gets a copy of
 * passwd and group that has it.
 */
const NAMESPACE_SCRIPT = `set -e
root=$1; shift
if ! getent passwd libvirt-qemu >/dev/null; then
  cp /etc/passwd "$root/passwd"; cp /etc/group "$root/group"
  echo 'libvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin' >>"$root/passwd"
  echo 'libvirt-qemu:x:64055:' >>"$root/group"
  mount --bind "$root/passwd" /etc/passwd; mount --bind "$root/group" /etc/group
fi
for pair in "$@"; do
  mkdir -p "\${pair#*:}"; mount --bind "$root/\${pair%%:*}" "\${pair#*:}"
done
exec libvirtd --config "$root/etc/libvirtd.conf" --pid-file "$root/run/libvirtd.pid"
`;

const LIBVIRTD_CONF = (socketDir: string) => `unix_sock_dir = "${socketDir}"
auth_unix_rw = "none"
auth_unix_ro = "none"
unix_sock_rw_perms = "0700"
`;

// QEMU runs as root on the test's files without relabelling or chowning them;
// without systemd there is no machined for cgroups, and no virtlogd for QEMU's output.
const QEMU_CONF = `user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = []
stdio_handler = "file"
`;

export interface PrivateLibvirtd {
  uri: string;
  /** Runs virsh on the private daemon; throws with its output unless it succeeds. */
  virsh(args: string[]): Promise<string>;
  /** The daemon's own output so far, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

export async function startPrivateLibvirtd(root: string): Promise<PrivateLibvirtd> {
  for (const name of [...Object.keys(LIBVIRT_DIRS), 'sockets', 'drivers']) await mkdir(path.join(root, name), { recursive: true });
  const socketDir = path.join(root, 'sockets');
  await symlink(QEMU_DRIVER, path.join(root, 'drivers', path.basename(QEMU_DRIVER)));
  await writeFile(path.join(root, 'etc/libvirtd.conf'), LIBVIRTD_CONF(socketDir));
  await writeFile(path.join(root, 'etc/qemu.conf'), QEMU_CONF);
  const pairs = Object.entries(LIBVIRT_DIRS).map(([mine, host]) => `${mine}:${host}`);
  const daemon: ResultPromise = execa(
    'unshare',
    ['--mount', '--propagation', 'private', '--', 'sh', '-c', NAMESPACE_SCRIPT, 'sh', root, ...pairs],
    { all: true, buffer: false, reject: false, env: { LIBVIRT_DRIVER_DIR: path.join(root, 'drivers') } },
  );
  let output = '';
  daemon.all!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const uri = `qemu:///system?socket=${path.join(socketDir, 'libvirt-sock')}`;
  const virsh = async (args: string[]) => {
    const result = await execa('virsh', ['--connect', uri, ...args], { all: true, reject: false });
    if (result.exitCode !== 0) throw new Error(`virsh ${args.join(' ')} exited ${result.exitCode}:\n${result.all}`);
    return result.stdout;
  };
  const stop = async () => {
    daemon.kill('SIGTERM');
    await daemon;
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await virsh(['version']);
      break;
    } catch (error) {
      if (daemon.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`libvirtd did not answer on ${uri}: ${(error as Error).message}\n--- libvirtd ---\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  return { uri, virsh, log: () => output, stop };
}
