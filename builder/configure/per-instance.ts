/**
 * What each instance must make for itself on first boot (SSH host keys, machine-id, the
 * WUI certificate, the random seed) and the build's own logs, stamped with the build
 * machine's clock: none of it may ship in an image.
 */
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

const PER_INSTANCE_FILES = ['/var/lib/dbus/machine-id', '/var/lib/systemd/random-seed', '/etc/loadbalancer/wui.pem'];
const BUILD_LOGS = ['/var/log/dpkg.log', '/var/log/alternatives.log', '/var/log/apt/history.log', '/var/log/apt/term.log'];

export async function removePerInstanceFiles(root: string): Promise<void> {
  for (const file of [...PER_INSTANCE_FILES, ...BUILD_LOGS]) await rm(path.join(root, file), { force: true });
  const sshDir = path.join(root, 'etc/ssh');
  for (const name of await readdir(sshDir)) {
    if (name.startsWith('ssh_host_')) await rm(path.join(sshDir, name));
  }
  // Empty, not absent: systemd then writes a new one on first boot.
  await writeFile(path.join(root, 'etc/machine-id'), '');
}
