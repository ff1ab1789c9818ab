/** Console users and the WUI login, with passwords stored only as salted SHA-512 crypt hashes. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../exec.js';
import { writeImageFile } from '../rootdir.js';
import { inChroot, type StepContext } from './chroot.js';

export async function configureUsers(root: string, ctx: StepContext): Promise<void> {
  const { recipe } = ctx;
  const passwd = await readFile(path.join(root, 'etc/passwd'), 'utf8');
  for (const user of recipe.users) {
    const exists = passwd.split('\n').some((line) => line.startsWith(`${user.name}:`));
    const shell = user.shell ? ['-s', user.shell] : [];
    const groups = user.groups?.length ? ['-G', user.groups.join(',')] : [];
    if (exists) {
      if (shell.length || groups.length) await inChroot(root, ctx, ['usermod', ...shell, ...groups, user.name]);
    } else {
      await inChroot(root, ctx, ['useradd', '--create-home', '--user-group', ...shell, ...groups, user.name]);
    }
    await inChroot(root, ctx, ['usermod', '--password', await cryptPassword(user.name, user.password), user.name]);
    // The documented default passwords must work whenever an image is first booted, so
    // these accounts never age, whatever login.defs sets for accounts made later.
    await inChroot(root, ctx, ['chage', '--mindays', '0', '--maxdays', '-1', user.name]);
  }
  const htpasswd = `${recipe.wui.user}:${await cryptPassword(`wui:${recipe.wui.user}`, recipe.wui.password)}\n`;
  await writeImageFile(root, '/etc/loadbalancer/wui.htpasswd', htpasswd, 0o640);
  await inChroot(root, ctx, ['chown', 'root:www-data', '/etc/loadbalancer/wui.htpasswd']);
}

/**
 * SHA-512 crypt with a salt derived from the input, so the same recipe gives the same
 * image. The password goes to openssl on stdin, never on a command line.
 */
async function cryptPassword(label: string, password: string): Promise<string> {
  const salt = createHash('sha256').update(`lbbuild-salt:${label}:${password}`).digest('base64url').replace(/[-_]/g, '.').slice(0, 16);
  return run('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: `${password}\n` });
}
