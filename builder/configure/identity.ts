/** The appliance's identity: hostname, hosts, version, and the network defaults lb-restore-defaults restores. */
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
}
