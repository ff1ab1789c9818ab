/**
 * Stage kernel: the appliance's own kernel, built from a source tarball and the
 * recipe's config fragments over the Kconfig defaults (make alldefconfig), with its
 * drivers built in and its few modules signed. Output: kernel.tar (boot/vmlinuz-<release>,
 * boot/config-<release>, boot/System.map-<release>, usr/lib/modules/<release>/) and
 * kernel.json. Skipped (no output) when the recipe boots the distribution's kernel.
 *
 * The key holds the tarball's sha256, the fragments, the compiler and the signing key,
 * not the build epoch: the kernel's timestamp is its source's date, so a new commit of
 * the project does not rebuild it. Without LBBUILD_KERNEL_SIGNING_KEY the kernel build
 * makes a fresh module signing key, used once and discarded with the build tree.
 */
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { run } from '../exec.js';
import { UserError } from '../errors.js';
import { resolveInside } from '../paths.js';
import { hashFile } from '../tree-hash.js';
import { untrackTemporary } from '../cleanup.js';
import type { HostTool } from '../tools.js';
import { stageKey, type BuildContext, type StageResult } from './stage.js';
import { parseFragments, unmetOptions } from '../kernel/config.js';

export const KERNEL_TARBALL = 'kernel.tar';
export const KERNEL_INFO = 'kernel.json';
export const KERNEL_TOOLS: HostTool[] = ['make', 'gcc', 'bc', 'bison', 'flex', 'perl', 'openssl', 'tar', 'depmod'];
/** A PEM file holding the module signing private key and its certificate, for reproducible release kernels. */
export const SIGNING_KEY_VARIABLE = 'LBBUILD_KERNEL_SIGNING_KEY';

export interface KernelInfo {
  release: string;
  /** Seconds the build took (for reports; the manifest holds no clock time). */
  buildSeconds: number;
}

/** The distribution's kernel needs no stage; this key stands for it. */
const DISTRO_KERNEL = 'distro';

export interface KernelInputs {
  key: string;
  tarball: string;
  fragments: Array<{ file: string; text: string }>;
  signingKey: string | undefined;
}

export async function kernelInputs(ctx: BuildContext): Promise<KernelInputs | undefined> {
  const { kernel } = ctx.loaded.recipe;
  if (kernel.source !== 'build' || !kernel.build) return undefined;
  const tarball = await sourceTarball(ctx.loaded.projectRoot, kernel.build.source);
  const fragments = await Promise.all(
    kernel.build.fragments.map(async (relative) => {
      const file = resolveInside(ctx.loaded.projectRoot, path.resolve(ctx.loaded.projectRoot, relative));
      const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw new UserError(`kernel.build.fragments: cannot read ${relative}: ${error.code ?? error.message}`);
      });
      return { file: relative, text };
    }),
  );
  const signingKey = process.env[SIGNING_KEY_VARIABLE] || undefined;
  const key = stageKey('kernel', import.meta.url, {
    source: await hashFile(tarball),
    fragments,
    compiler: await run('gcc', ['--version']),
    signingKey: signingKey ? await hashFile(signingKey) : 'fresh',
  });
  return { key, tarball, fragments, signingKey };
}

export async function kernelKey(ctx: BuildContext): Promise<string> {
  return (await kernelInputs(ctx))?.key ?? DISTRO_KERNEL;
}

export async function kernelStage(ctx: BuildContext): Promise<StageResult> {
  const inputs = await kernelInputs(ctx);
  if (!inputs) return { name: 'kernel', key: DISTRO_KERNEL, dir: '', cached: true };
  const entry = await ctx.cache.produce('kernel', inputs.key, async (dir) => {
    const work = await ctx.cache.tempDir('kernel-work');
    try {
      await buildKernel(ctx, { ...inputs, work, outDir: dir });
    } finally {
      await rm(work, { recursive: true, force: true });
      untrackTemporary(work);
    }
  });
  return { name: 'kernel', key: inputs.key, ...entry };
}

interface KernelBuildInput extends KernelInputs {
  work: string;
  outDir: string;
}

async function buildKernel(ctx: BuildContext, input: KernelBuildInput): Promise<void> {
  const started = Date.now();
  const src = path.join(input.work, 'src');
  await mkdir(src);
  ctx.log(`unpacking ${input.tarball}`);
  await run('tar', ['-C', src, '-xf', input.tarball, '--strip-components=1', '--no-same-owner']);
  const sourceDate = await stat(path.join(src, 'Kbuild')).then(
    () => stat(path.join(src, 'Makefile')).then((makefile) => Math.floor(makefile.mtimeMs / 1000)),
    () => {
      throw new UserError(`kernel.build.source: ${input.tarball} is not a Linux source tarball (it has no Kbuild at its top level); point it at one, e.g. Debian's /usr/src/linux-source-6.1.tar.xz`);
    },
  );
  // Fixed names and dates, and paths relative to the tree, so the same inputs give the same kernel.
  const env = {
    KBUILD_BUILD_TIMESTAMP: `@${sourceDate}`,
    KBUILD_BUILD_USER: 'lbbuild',
    KBUILD_BUILD_HOST: 'lbbuild',
    KBUILD_BUILD_VERSION: '1',
    KCFLAGS: `-ffile-prefix-map=${src}/=`,
  };
  const make = (args: string[]) => run('make', ['-C', src, ...args], { env, onLine: ctx.log });

  const allconfig = path.join(input.work, 'fragments.config');
  await writeFile(allconfig, input.fragments.map((f) => f.text).join('\n'));
  await make([`KCONFIG_ALLCONFIG=${allconfig}`, 'alldefconfig']);
  const unmet = unmetOptions(parseFragments(input.fragments), await readFile(path.join(src, '.config'), 'utf8'));
  if (unmet.length) {
    const lines = unmet.map((u) => `  ${u.file}:${u.line}: ${u.symbol}=${u.wanted}, but the kernel's config has ${u.symbol}=${u.actual}`);
    throw new UserError(
      `kernel.build.fragments: ${unmet.length} option(s) did not take effect; each needs options it depends on (see its "depends on" in Kconfig) or is not in this kernel version:\n${lines.join('\n')}`,
    );
  }
  if (input.signingKey) await copyFile(input.signingKey, path.join(src, 'certs/signing_key.pem'));

  ctx.log('compiling the kernel and its modules');
  await make([`-j${availableParallelism()}`, 'bzImage', 'modules']);
  const release = (await make(['-s', 'kernelrelease'])).trim().split('\n').at(-1)!;
  if (!release.endsWith('-lbbuild')) {
    throw new UserError(`kernel.build.fragments: the kernel release is "${release}"; set CONFIG_LOCALVERSION="-lbbuild" in a fragment`);
  }

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
  ]);
  await rename(archive, path.join(input.outDir, KERNEL_TARBALL));
  const info: KernelInfo = { release, buildSeconds: Math.round((Date.now() - started) / 1000) };
  await writeFile(path.join(input.outDir, KERNEL_INFO), `${JSON.stringify(info, null, 2)}\n`);
}

async function sourceTarball(projectRoot: string, source: string): Promise<string> {
  const file = path.resolve(projectRoot, source);
  const found = await stat(file).then((s) => s.isFile(), () => false);
  if (!found) {
    throw new UserError(
      `kernel.build.source: ${file} does not exist; install Debian's linux-source-6.1 package (apt-get install linux-source-6.1) or point kernel.build.source at a Linux source tarball`,
    );
  }
  return file;
}

/** Reads the kernel a kernel stage built; undefined when the image uses the distribution's kernel. */
export async function builtKernel(stage: StageResult): Promise<(KernelInfo & { tarball: string }) | undefined> {
  if (!stage.dir) return undefined;
  const info = JSON.parse(await readFile(path.join(stage.dir, KERNEL_INFO), 'utf8')) as KernelInfo;
  return { ...info, tarball: path.join(stage.dir, KERNEL_TARBALL) };
}
