/**
 * Stage components: software no base repository carries, built from a pinned source
 * tarball in a clean root of the target base and packaged natively. Output: one
 * <name>_<version>_amd64.deb per component.
 *
 * The key holds each component's own inputs and the base release, not the rootfs key:
 * the build root is a fresh bootstrap of the release, so the image's package list
 * cannot change what is built. Each package's SOURCE_DATE_EPOCH is its source's date
 * (newest file in the tarball), so a new build epoch does not rebuild components.
 */
import { copyFile, lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { run } from '../exec.js';
import { BuildError } from '../errors.js';
import { resolveInside } from '../paths.js';
import { hashTree, listTree } from '../tree-hash.js';
import { applyOverlay, clampTimes, hostPathFor } from '../rootdir.js';
import { toolVersions, type HostTool } from '../tools.js';
import { aptSources } from '../backends/debian.js';
import { nativePackages } from '../backends/backend.js';
import { fetchSource } from '../sources/fetch.js';
import { planStage, type BuildContext, type PlanContext, type PlannedStage } from './stage.js';
import type { Recipe } from '../recipe/schema.js';

type Component = NonNullable<Recipe['components']>[number];

export const COMPONENTS_TOOLS: HostTool[] = ['mmdebstrap', 'tar', 'chroot'];
const ARCH = 'amd64';
const SOURCE_DIR = '/build/src';
const DESTDIR = '/build/destdir';

export interface Components {
  /** The built packages, in the order they are installed. */
  debs: string[];
}

/** The components stage of a recipe with components; undefined when it has none. */
export async function planComponents(ctx: PlanContext): Promise<PlannedStage<Components> | undefined> {
  const { recipe, projectRoot } = ctx.loaded;
  const components = recipe.components ?? [];
  if (!components.length) return undefined;
  const files: Record<string, string> = {};
  for (const c of components) if (c.files) files[c.files] = await hashTree(filesDir(projectRoot, c.files));
  return planStage({
    name: 'components',
    version: 1,
    inputs: {
      files,
      settings: {
        backend: recipe.base.backend,
        release: recipe.base.release,
        components: components.map((c) => ({
          ...c,
          source: c.source.sha256,
          buildDepends: nativePackages(ctx.backend, c.buildDepends),
          depends: nativePackages(ctx.backend, c.depends),
        })),
      },
      tools: await toolVersions(COMPONENTS_TOOLS),
    },
    build: (build, dir) => buildComponents(build, components, dir),
    async read(dir) {
      return { debs: (await readdir(dir)).filter((f) => f.endsWith('.deb')).sort().map((f) => path.join(dir, f)) };
    },
  });
}

function buildComponents(ctx: BuildContext, components: Component[], dir: string): Promise<void> {
  return ctx.cache.withWorkFolder('components-work', async (work) => {
    // Every source is fetched and checked before the first (slow) build root is made.
    const sources = { projectRoot: ctx.loaded.projectRoot, downloads: ctx.cache.downloads, log: ctx.log, signal: ctx.signal };
    const tarballs: string[] = [];
    for (const [index, c] of components.entries()) tarballs.push(await fetchSource(c, { ...sources, index }));
    for (const [i, c] of components.entries()) await buildComponent(ctx, c, tarballs[i]!, path.join(work, c.name), dir);
  });
}

/** Installs the packages of a components stage into an image root. */
export async function installComponents(root: string, components: Components | undefined, ctx: BuildContext): Promise<void> {
  if (!components?.debs.length) return;
  const inbox = await hostPathFor(root, '/tmp/lbbuild-components');
  await mkdir(inbox, { recursive: true });
  try {
    const names = components.debs.map((deb) => path.basename(deb));
    for (const deb of components.debs) await copyFile(deb, path.join(inbox, path.basename(deb)));
    const args = [root, 'dpkg', '-i', ...names.map((name) => `/tmp/lbbuild-components/${name}`)];
    await run('chroot', args, { env: { SOURCE_DATE_EPOCH: String(ctx.epoch) }, onLine: ctx.log, signal: ctx.signal });
  } finally {
    await rm(inbox, { recursive: true, force: true });
  }
}

async function buildComponent(ctx: BuildContext, c: Component, tarball: string, root: string, outDir: string): Promise<void> {
  const { base } = ctx.loaded.recipe;
  const include = nativePackages(ctx.backend, c.buildDepends);
  await run('mmdebstrap', ['--variant=buildd', ...(include.length ? [`--include=${include.join(',')}`] : []), base.release, root, ...aptSources(base)], {
    onLine: ctx.log,
    input: '',
    signal: ctx.signal,
  });
  const src = path.join(root, SOURCE_DIR);
  await mkdir(src, { recursive: true });
  await run('tar', ['-C', src, '-xf', tarball, '--strip-components=1', '--no-same-owner'], { signal: ctx.signal });
  const epoch = await newestMtime(src);
  // A clean environment (env -i): nothing from the host's shell changes the build.
  const env = ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'LC_ALL=C.UTF-8', `SOURCE_DATE_EPOCH=${epoch}`];
  const substitute = (arg: string) => arg.replaceAll('{destdir}', DESTDIR).replaceAll('{jobs}', String(availableParallelism()));
  for (const step of c.build) {
    const command = step.map(substitute);
    await run('chroot', [root, 'env', '-i', '-C', SOURCE_DIR, ...env, ...command], { onLine: ctx.log, signal: ctx.signal }).catch((error: Error) => {
      if (ctx.signal.aborted) throw error;
      throw new BuildError(`component ${c.name}: ${command.join(' ')} failed: ${error.message}`);
    });
  }
  const tree = path.join(root, DESTDIR);
  await mkdir(tree, { recursive: true });
  if (c.files) await applyOverlay(filesDir(ctx.loaded.projectRoot, c.files), tree);
  // The info index belongs to the system (install-info keeps it), not to one package.
  await rm(path.join(tree, 'usr/share/info/dir'), { force: true });
  await writeControl(tree, c, nativePackages(ctx.backend, c.depends));
  await clampTimes(tree, epoch);
  const deb = `${c.name}_${c.version}_${ARCH}.deb`;
  await run('chroot', [root, 'env', `SOURCE_DATE_EPOCH=${epoch}`, 'dpkg-deb', '--root-owner-group', '--build', DESTDIR, `/build/${deb}`], {
    onLine: ctx.log,
    signal: ctx.signal,
  });
  await copyFile(path.join(root, 'build', deb), path.join(outDir, deb));
}

async function writeControl(tree: string, c: Component, depends: string[]): Promise<void> {
  const control = [
    `Package: ${c.name}`,
    `Version: ${c.version}`,
    `Architecture: ${ARCH}`,
    'Maintainer: lbbuild',
    ...(depends.length ? [`Depends: ${depends.join(', ')}`] : []),
    `Description: ${c.name} ${c.version}, built from its pinned source by lbbuild`,
  ];
  await mkdir(path.join(tree, 'DEBIAN'));
  await writeFile(path.join(tree, 'DEBIAN/control'), `${control.join('\n')}\n`);
  // Files under /etc are configuration: dpkg keeps an administrator's changes on upgrade.
  const etc = await listTree(path.join(tree, 'etc')).catch(() => [] as string[]);
  const conffiles = [];
  for (const f of etc) if ((await lstat(path.join(tree, 'etc', f))).isFile()) conffiles.push(`/etc/${f}\n`);
  if (conffiles.length) await writeFile(path.join(tree, 'DEBIAN/conffiles'), conffiles.join(''));
}

function filesDir(projectRoot: string, relative: string): string {
  return resolveInside(projectRoot, path.resolve(projectRoot, relative));
}

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const f of await listTree(dir)) newest = Math.max(newest, (await lstat(path.join(dir, f))).mtimeMs);
  return Math.floor(newest / 1000);
}
