/**
 * Stage kernel: the appliance's own kernel, built from a source tarball and the
 * recipe's config fragments over the Kconfig defaults (make alldefconfig), with its
 * drivers built in and its few modules signed. Output: kernel.tar (boot/vmlinuz-<release>,
 * boot/config-<release>, boot/System.map-<release>, usr/lib/modules/<release>/) and
 * kernel.json. Planned only when the recipe builds its kernel (kernel.source: build).
 *
 * The key holds the tarball's and fragments' hashes, the compiler and the signing key,
 * not the build epoch: the kernel's timestamp is its source's date, so a new commit of
 * the project does not rebuild it. Without LBBUILD_KERNEL_SIGNING_KEY the kernel build
 * makes a fresh module signing key, used once and discarded with the build tree.
 */
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { run } from '../exec.js';
import { hashFile } from '../tree-hash.js';
import { sha256Hex } from '../hash.js';
import { toolVersions, type HostTool } from '../tools.js';
import { planStage, type BuildContext, type PlanContext, type PlannedStage } from './stage.js';
import { KernelConfigError, parseFragments, unmetOptions } from '../kernel/config.js';

export const KERNEL_TOOLS: HostTool[] = ['make', 'gcc', 'ld', 'bc', 'bison', 'flex', 'perl', 'openssl', 'tar', 'depmod', 'zstd'];
/** A PEM file holding the module signing private key and its certificate, for reproducible release kernels. */
export const SIGNING_KEY_VARIABLE = 'LBBUILD_KERNEL_SIGNING_KEY';
const KERNEL_TARBALL = 'kernel.tar';
const KERNEL_INFO = 'kernel.json';

export interface BuiltKernel {
  release: string;
  /** Seconds the build took (for reports; the manifest holds no clock time). */
  buildSeconds: number;
  tarball: string;
}

interface KernelSources {
  tarball: string;
  fragments: Array<{ file: string; text: string }>;
  signingKey: string | undefined;
}

/** The kernel stage of a recipe that builds its kernel; undefined when it boots the base's kernel. */
export async function planKernel(ctx: PlanContext): Promise<PlannedStage<BuiltKernel> | undefined> {
  const { kernel } = ctx.loaded.recipe;
  if (kernel.source !== 'build') return undefined;
  const { projectRoot } = ctx.loaded;
  const sources: KernelSources = {
    tarball: path.resolve(projectRoot, kernel.build.source),
    fragments: await Promise.all(
      kernel.build.fragments.map(async (file) => ({ file, text: await readFile(path.resolve(projectRoot, file), 'utf8') })),
    ),
    signingKey: process.env[SIGNING_KEY_VARIABLE] || undefined,
  };
  const files: Record<string, string> = { [kernel.build.source]: await hashFile(sources.tarball) };
  for (const fragment of sources.fragments) files[fragment.file] = sha256Hex(fragment.text);
  return planStage({
    name: 'kernel',
    version: 1,
    inputs: {
      files,
      settings: { fragments: kernel.build.fragments, signingKey: sources.signingKey ? await hashFile(sources.signingKey) : 'fresh' },
      tools: { ...(await toolVersions(KERNEL_TOOLS)), compiler: (await run('gcc', ['--version'])).split('\n')[0]! },
    },
    build: (build, dir) => buildInWorkFolder(build, sources, dir),
    async read(dir) {
      const info = JSON.parse(await readFile(path.join(dir, KERNEL_INFO), 'utf8')) as Omit<BuiltKernel, 'tarball'>;
      return { ...info, tarball: path.join(dir, KERNEL_TARBALL) };
    },
  });
}

function buildInWorkFolder(ctx: BuildContext, sources: KernelSources, outDir: string): Promise<void> {
  return ctx.cache.withWorkFolder('kernel-work', (work) => buildKernel(ctx, { ...sources, work, outDir }));
}

interface KernelBuildInput extends KernelSources {
  work: string;
  outDir: string;
}

async function buildKernel(ctx: BuildContext, input: KernelBuildInput): Promise<void> {
  const started = Date.now();
  const src = path.join(input.work, 'src');
  await mkdir(src);
  const { signal } = ctx;
  ctx.log(`unpacking ${input.tarball}`);
  await run('tar', ['-C', src, '-xf', input.tarball, '--strip-components=1', '--no-same-owner'], { signal });
  const sourceDate = Math.floor((await stat(path.join(src, 'Makefile'))).mtimeMs / 1000);
  // Fixed names and dates, and paths relative to the tree, so the same inputs give the same kernel.
  const env = {
    KBUILD_BUILD_TIMESTAMP: `@${sourceDate}`,
    KBUILD_BUILD_USER: 'lbbuild',
    KBUILD_BUILD_HOST: 'lbbuild',
    KBUILD_BUILD_VERSION: '1',
    KCFLAGS: `-ffile-prefix-map=${src}/=`,
  };
  const make = (args: string[]) => run('make', ['-C', src, ...args], { env, onLine: ctx.log, signal });

  const allconfig = path.join(input.work, 'fragments.config');
  await writeFile(allconfig, input.fragments.map((f) => f.text).join('\n'));
  await make([`KCONFIG_ALLCONFIG=${allconfig}`, 'alldefconfig']);
  const unmet = unmetOptions(parseFragments(input.fragments), await readFile(path.join(src, '.config'), 'utf8'));
  if (unmet.length) throw new KernelConfigError(unmet);
  if (input.signingKey) await copyFile(input.signingKey, path.join(src, 'certs/signing_key.pem'));

  ctx.log('compiling the kernel and its modules');
  await make([`-j${availableParallelism()}`, 'bzImage', 'modules']);
  const release = (await make(['-s', 'kernelrelease'])).trim().split('\n').at(-1)!;

  const tree = path.join(input.work, 'tree');
  await make([`INSTALL_MOD_PATH=${tree}/usr`, 'INSTALL_MOD_STRIP=1', 'modules_install']);
  for (const link of ['build', 'source']) await rm(path.join(tree, 'usr/lib/modules', release, link), { force: true });
  await mkdir(path.join(tree, 'boot'));
  await copyFile(path.join(src, 'arch/x86/boot/bzImage'), path.join(tree, 'boot', `vmlinuz-${release}`));
  await copyFile(path.join(src, '.config'), path.join(tree, 'boot', `config-${release}`));
  await copyFile(path.join(src, 'System.map'), path.join(tree, 'boot', `System.map-${release}`));

  const archive = path.join(input.work, KERNEL_TARBALL);
  await run('tar', [
    '-C', tree, '-cf', archive,
    '--sort=name', `--mtime=@${sourceDate}`, '--clamp-mtime', '--owner=0', '--group=0', '--numeric-owner', '--format=gnu',
    'boot', 'usr',
  ], { signal });
  await rename(archive, path.join(input.outDir, KERNEL_TARBALL));
  const info: Omit<BuiltKernel, 'tarball'> = { release, buildSeconds: Math.round((Date.now() - started) / 1000) };
  await writeFile(path.join(input.outDir, KERNEL_INFO), `${JSON.stringify(info, null, 2)}\n`);
}
