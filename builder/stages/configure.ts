/**
 * Stage configure: turns the base root filesystem into the appliance's: components, overlays,
 * hostname, users, network defaults, services, boot configuration; then removes
 * everything that must be unique per instance (SSH host keys, machine-id).
 * Output: root/ (the finished tree), packages.json, boot.json.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile, cp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { run } from '../exec.js';
import { resolveInside } from '../paths.js';
import { hashTree } from '../tree-hash.js';
import { applyOverlay, clampTimes, writeImageFile } from '../rootdir.js';
import { ROOTFS_TARBALL } from './rootfs.js';
import { installComponents } from './components.js';
import { builtKernel } from './kernel.js';
import { bootFiles, type BootConfig } from '../boot/config.js';
import { stageKey, type BuildContext, type StageResult } from './stage.js';
import type { Recipe } from '../recipe/schema.js';

const HOOKS_DIR = 'usr/lib/lbbuild/configure.d';
/** Written fresh by each instance on first boot; an image must not carry them. */
const PER_INSTANCE_FILES = ['/var/lib/dbus/machine-id', '/var/lib/systemd/random-seed', '/etc/loadbalancer/wui.pem'];
/** Logs of what the build did in the image, stamped with the build machine's clock. */
const BUILD_LOGS = ['/var/log/dpkg.log', '/var/log/alternatives.log', '/var/log/apt/history.log', '/var/log/apt/term.log'];

export async function configureKey(ctx: BuildContext, parentKeys: string[]): Promise<string> {
  const { recipe } = ctx.loaded;
  const inputs = {
    parents: parentKeys,
    epoch: ctx.epoch,
    overlays: await Promise.all(overlayDirs(ctx).map(hashTree)),
    hostname: recipe.hostname,
    version: recipe.version,
    name: recipe.name,
    users: recipe.users.map((u) => ({ ...u, password: sha256(u.password) })),
    wui: { ...recipe.wui, password: sha256(recipe.wui.password) },
    network: recipe.network,
    services: recipe.services,
    kernel: recipe.kernel,
  };
  return stageKey('configure', import.meta.url, inputs);
}

export async function configureStage(
  ctx: BuildContext,
  rootfs: StageResult,
  components: StageResult,
  kernel: StageResult,
): Promise<StageResult> {
  const { recipe } = ctx.loaded;
  const overlays = overlayDirs(ctx);
  const key = await configureKey(ctx, [rootfs.key, components.key, kernel.key]);
  const entry = await ctx.cache.produce('configure', key, async (dir) => {
    const root = path.join(dir, 'root');
    await mkdir(root);
    await run('tar', ['-C', root, '-xpf', path.join(rootfs.dir, ROOTFS_TARBALL), '--numeric-owner', '--xattrs', '--xattrs-include=*']);
    await installComponents(root, components.dir, ctx);
    await installKernel(root, kernel, ctx);
    for (const overlay of overlays) await applyOverlay(overlay, root);
    await writeIdentity(root, recipe);
    await runHooks(root, ctx);
    await configureUsers(root, recipe);
    await inChroot(root, ctx, ['/usr/local/sbin/lb-restore-defaults', '--offline']);
    await configureServices(root, recipe, ctx);
    const boot = await writeBootFiles(root, recipe);
    for (const file of [...PER_INSTANCE_FILES, ...BUILD_LOGS]) await rm(path.join(root, file), { force: true });
    await removeHostKeys(root);
    await writeFile(path.join(root, 'etc/machine-id'), '');
    const packages = await ctx.backend.installedPackages(root);
    await writeFile(path.join(dir, 'packages.json'), `${JSON.stringify(packages, null, 2)}\n`);
    await writeFile(path.join(dir, 'boot.json'), `${JSON.stringify(boot, null, 2)}\n`);
    await clampTimes(root, ctx.epoch);
  });
  return { name: 'configure', key, ...entry };
}

function overlayDirs(ctx: BuildContext): string[] {
  const { recipe, projectRoot } = ctx.loaded;
  return recipe.overlays.map((o) => resolveInside(projectRoot, path.resolve(projectRoot, o)));
}

async function writeIdentity(root: string, recipe: Recipe): Promise<void> {
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

/** Overlays may carry build-time hooks; they run once in the image, then are removed. */
async function runHooks(root: string, ctx: BuildContext): Promise<void> {
  const hooks = (await readdir(path.join(root, HOOKS_DIR)).catch(() => [] as string[])).sort();
  for (const hook of hooks) await inChroot(root, ctx, [`/${HOOKS_DIR}/${hook}`]);
  await rm(path.join(root, 'usr/lib/lbbuild'), { recursive: true, force: true });
}

async function configureUsers(root: string, recipe: Recipe): Promise<void> {
  const passwd = await readFile(path.join(root, 'etc/passwd'), 'utf8');
  for (const user of recipe.users) {
    const exists = passwd.split('\n').some((line) => line.startsWith(`${user.name}:`));
    const shell = user.shell ? ['-s', user.shell] : [];
    const groups = user.groups?.length ? ['-G', user.groups.join(',')] : [];
    if (exists) {
      if (shell.length || groups.length) await run('chroot', [root, 'usermod', ...shell, ...groups, user.name]);
    } else {
      await run('chroot', [root, 'useradd', '--create-home', '--user-group', ...shell, ...groups, user.name]);
    }
    await run('chroot', [root, 'usermod', '--password', await cryptPassword(user.name, user.password), user.name]);
    // The documented default passwords must work whenever an image is first booted, so
    // these accounts never age, whatever login.defs sets for accounts made later.
    await run('chroot', [root, 'chage', '--mindays', '0', '--maxdays', '-1', user.name]);
  }
  const htpasswd = `${recipe.wui.user}:${await cryptPassword(`wui:${recipe.wui.user}`, recipe.wui.password)}\n`;
  await writeImageFile(root, '/etc/loadbalancer/wui.htpasswd', htpasswd, 0o640);
  await run('chroot', [root, 'chown', 'root:www-data', '/etc/loadbalancer/wui.htpasswd']);
}

/**
 * SHA-512 crypt with a salt derived from the input, so the same recipe gives the same
 * image. The password goes to openssl on stdin, never on a command line.
 */
async function cryptPassword(label: string, password: string): Promise<string> {
  const salt = createHash('sha256').update(`lbbuild-salt:${label}:${password}`).digest('base64url').replace(/[-_]/g, '.').slice(0, 16);
  return run('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: `${password}\n` });
}

async function configureServices(root: string, recipe: Recipe, ctx: BuildContext): Promise<void> {
  const unit = (name: string) => (name.includes('.') ? name : `${name}.service`);
  if (recipe.services.enable.length) await inChroot(root, ctx, ['systemctl', 'enable', ...recipe.services.enable.map(unit)]);
  if (recipe.services.disable.length) await inChroot(root, ctx, ['systemctl', 'disable', ...recipe.services.disable.map(unit)]);
}

async function writeBootFiles(root: string, recipe: Recipe): Promise<BootConfig> {
  const kernels = (await readdir(path.join(root, 'boot')))
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const kernelVersion = kernels.at(-1);
  if (!kernelVersion) throw new Error('configure: no kernel in /boot: the base installed none and no kernel was built');
  const initramfs = existsSync(path.join(root, 'boot', `initrd.img-${kernelVersion}`));
  const { config, files } = bootFiles(recipe, kernelVersion, initramfs);
  for (const [imagePath, content] of Object.entries(files)) await writeImageFile(root, imagePath, content);
  // The distro's GRUB tools expect their modules under /boot/grub, as grub-install leaves them.
  for (const platform of ['i386-pc', 'x86_64-efi']) {
    const modules = path.join(root, 'usr/lib/grub', platform);
    await cp(modules, path.join(root, 'boot/grub', platform), { recursive: true, filter: (src) => !src.endsWith('.image') });
  }
  await mkdir(path.join(root, 'boot/efi'), { recursive: true });
  return config;
}

async function removeHostKeys(root: string): Promise<void> {
  const sshDir = path.join(root, 'etc/ssh');
  for (const name of await readdir(sshDir)) {
    if (name.startsWith('ssh_host_')) await rm(path.join(sshDir, name));
  }
}

/** The built kernel goes in as files (no package), with its module index made in the image. */
async function installKernel(root: string, stage: StageResult, ctx: BuildContext): Promise<void> {
  const kernel = await builtKernel(stage);
  if (!kernel) return;
  await run('tar', ['-C', root, '-xf', kernel.tarball, '--numeric-owner', '--keep-directory-symlink']);
  await inChroot(root, ctx, ['depmod', '-a', kernel.release]);
}

function inChroot(root: string, ctx: BuildContext, command: string[]): Promise<string> {
  return run('chroot', [root, ...command], { env: { SOURCE_DATE_EPOCH: String(ctx.epoch) }, onLine: ctx.log });
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
