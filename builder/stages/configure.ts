/**
 * Stage configure: turns the base root filesystem into the appliance's: components, kernel,
 * overlays, identity, hooks, users, network defaults, services, boot configuration; then
 * removes everything that must be unique per instance (SSH host keys, machine-id).
 * Each step is a module of builder/configure/. Output: root/ (the finished tree),
 * packages.json, boot.json.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../exec.js';
import { hashTree } from '../tree-hash.js';
import { sha256Hex } from '../hash.js';
import { applyOverlay, clampTimes } from '../rootdir.js';
import { toolVersions, type HostTool } from '../tools.js';
import type { InstalledPackage } from '../backends/backend.js';
import type { BootConfig } from '../boot/config.js';
import { inChroot, type StepContext } from '../configure/chroot.js';
import { writeUpdateRelease } from '../configure/update-release.js';
import { writeIdentity } from '../configure/identity.js';
import { writeModelFile } from '../configure/model.js';
import { runHooks } from '../configure/hooks.js';
import { configureUsers } from '../configure/users.js';
import { configureServices } from '../configure/services.js';
import { writeBootFiles } from '../configure/boot-files.js';
import { removePerInstanceFiles } from '../configure/per-instance.js';
import { installKernel } from '../configure/kernel.js';
import { installComponents, type Components } from './components.js';
import type { BuiltKernel } from './kernel.js';
import type { Rootfs } from './rootfs.js';
import { planStage, type PlanContext, type PlannedStage } from './stage.js';

export const CONFIGURE_TOOLS: HostTool[] = ['tar', 'chroot', 'openssl'];

export interface Configured {
  /** The finished root filesystem tree. */
  root: string;
  packages: InstalledPackage[];
  boot: BootConfig;
}

export interface ConfigureNeeds {
  rootfs: Rootfs;
  components?: Components;
  kernel?: BuiltKernel;
}

export async function planConfigure(
  ctx: PlanContext,
  parents: { rootfs: string; components?: string; kernel?: string },
): Promise<PlannedStage<Configured, ConfigureNeeds>> {
  const { recipe, projectRoot } = ctx.loaded;
  const overlays: Record<string, string> = {};
  for (const overlay of recipe.overlays) overlays[overlay] = await hashTree(path.resolve(projectRoot, overlay));
  return planStage<Configured, ConfigureNeeds>({
    name: 'configure',
    version: 5,
    inputs: {
      parents,
      files: overlays,
      settings: {
        epoch: ctx.epoch,
        overlays: recipe.overlays,
        hostname: recipe.hostname,
        version: recipe.version,
        name: recipe.name,
        users: recipe.users.map((u) => ({ ...u, password: sha256Hex(u.password) })),
        wui: { ...recipe.wui, password: sha256Hex(recipe.wui.password) },
        network: recipe.network,
        ha: recipe.ha,
        services: recipe.services,
        kernel: recipe.kernel,
        updatePublicKey: ctx.updatePublicKey,
        model: recipe.model,
      },
      tools: await toolVersions(CONFIGURE_TOOLS),
    },
    async build(build, dir, needs) {
      const root = path.join(dir, 'root');
      const step: StepContext = { recipe, epoch: build.epoch, log: build.log, signal: build.signal };
      await mkdir(root);
      await run('tar', ['-C', root, '-xpf', needs.rootfs.tarball, '--numeric-owner', '--xattrs', '--xattrs-include=*'], { signal: build.signal });
      await installComponents(root, needs.components, build);
      if (needs.kernel) await installKernel(root, needs.kernel, step);
      for (const overlay of recipe.overlays) await applyOverlay(path.resolve(projectRoot, overlay), root);
      await writeIdentity(root, recipe);
      await writeModelFile(root, recipe.model);
      await writeUpdateRelease(root, recipe, ctx.updatePublicKey);
      await runHooks(root, step);
      await configureUsers(root, step);
      await inChroot(root, step, ['/usr/local/sbin/lb-restore-defaults', '--offline']);
      await configureServices(root, step);
      const boot = await writeBootFiles(root, recipe);
      await removePerInstanceFiles(root);
      const packages = await build.backend.installedPackages(root);
      await writeFile(path.join(dir, PACKAGES), `${JSON.stringify(packages, null, 2)}\n`);
      await writeFile(path.join(dir, BOOT), `${JSON.stringify(boot, null, 2)}\n`);
      await clampTimes(root, build.epoch);
    },
    async read(dir) {
      return {
        root: path.join(dir, 'root'),
        packages: JSON.parse(await readFile(path.join(dir, PACKAGES), 'utf8')) as InstalledPackage[],
        boot: JSON.parse(await readFile(path.join(dir, BOOT), 'utf8')) as BootConfig,
      };
    },
  });
}

const PACKAGES = 'packages.json';
const BOOT = 'boot.json';
