/** The appliance's identity: hostname, hosts, version, the network defaults lb-restore-defaults restores, heartbeat's timers. */
import { writeImageFile } from '../rootdir.js';
import type { Recipe } from '../recipe/schema.js';

export async function writeIdentity(root: string, recipe: Recipe): Promise<void> {
  await writeImageFile(root, '/etc/hostname', `${recipe.hostname}\n`);
  await writeImageFile(
    root,
    '/etc/hosts',
    `127.0.0.1\tlocalhost\n127.0.1.1\t${recipe.hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
  );
  await writeImageFile(root, '/etc/loadbalancer/version', `${recipe.name} v${recipe.version}\n`);
  await writeImageFile(
    root,
    '/etc/loadbalancer/network-defaults',
    `# Manufacturer's network defaults, restored by lb-restore-defaults.\nDEFAULT_ADDRESS=${recipe.network.address}\nDEFAULT_GATEWAY=${recipe.network.gateway ?? ''}\n`,
  );
  if (recipe.ha) {
    const timers = { ...recipe.ha.heartbeat, udpPort: HEARTBEAT_UDP_PORT, baud: HEARTBEAT_SERIAL_BAUD };
    await writeImageFile(root, '/etc/loadbalancer/heartbeat.json', `${JSON.stringify(timers)}\n`);
  }
}

/** Heartbeat's registered port, which the appliance's input policy opens (overlays/hardening). */
const HEARTBEAT_UDP_PORT = 694;
/** The serial heartbeat's line speed: heartbeat's documented default, which both nodes must share. */
const HEARTBEAT_SERIAL_BAUD = 19200;
