/**
 * Every check of a recipe that needs no build: the rules one schema cannot say (values
 * that depend on each other, files the recipe names, the kernel's release suffix). Each
 * problem names the recipe key it is about; the plan turns them into errors at the
 * recipe line that sets that key. `lbbuild validate` and `lbbuild plan` run them all.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFileSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { resolveInside } from '../paths.js';
import { parseFragments } from '../kernel/config.js';
import { checkSource } from '../sources/fetch.js';
import { UserError } from '../errors.js';
import type { LoadedRecipe } from '../recipe/load.js';
import { diskLayoutProblem } from '../disk/layout.js';
import { readUpdateKey, updateKeyFile, UPDATE_KEY_VARIABLE } from '../update/signing-key.js';
import type { BaseBackend, BaseProblem } from '../backends/backend.js';

export type RecipeProblem = BaseProblem;

/** The release suffix the appliance's own kernel carries (uname -r ends in it). */
export const KERNEL_RELEASE_SUFFIX = '-lbbuild';

/** `downloads` is the download cache a cached source may be in (the stage cache's). */
export async function recipeProblems(loaded: LoadedRecipe, backend: BaseBackend, downloads: string): Promise<RecipeProblem[]> {
  return [
    ...backend.baseProblems(loaded.recipe.base),
    ...networkProblems(loaded),
    ...diskProblems(loaded),
    ...overlayProblems(loaded),
    ...auditProblems(loaded),
    ...heartbeatProblems(loaded),
    ...modelProblems(loaded),
    ...updateKeyProblems(loaded),
    ...componentProblems(loaded, backend),
    ...(await componentSourceProblems(loaded, downloads)),
    ...(await kernelProblems(loaded)),
  ];
}

/** The update signing key the recipe names (unless the variable names another) is an Ed25519 private key inside the project. */
function updateKeyProblems(loaded: LoadedRecipe): RecipeProblem[] {
  if (loaded.recipe.update?.signingKey === undefined || process.env[UPDATE_KEY_VARIABLE]) return [];
  try {
    readUpdateKey(updateKeyFile(loaded)!);
    return [];
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    return [{ keyPath: ['update', 'signingKey'], problem: error.message }];
  }
}

/** Each source is in the project (with its sha256) or the download cache, or can be fetched from where it says. */
async function componentSourceProblems({ recipe, projectRoot }: LoadedRecipe, downloads: string): Promise<RecipeProblem[]> {
  const problems: RecipeProblem[] = [];
  for (const [index, component] of (recipe.components ?? []).entries()) {
    await checkSource(component, { index, projectRoot, downloads }).catch((error: unknown) => {
      if (!(error instanceof UserError)) throw error;
      problems.push({ keyPath: ['components', index, 'source'], problem: error.message });
    });
  }
  return problems;
}

function networkProblems({ recipe }: LoadedRecipe): RecipeProblem[] {
  const { address, gateway } = recipe.network;
  const [ip = '', prefix = ''] = address.split('/');
  const problems: RecipeProblem[] = [];
  if (!isIpv4(ip) || Number(prefix) < 1 || Number(prefix) > 32) {
    problems.push({ keyPath: ['network', 'address'], problem: `"${address}" is not an IPv4 address with a prefix length from 1 to 32, e.g. 192.168.2.21/24` });
  } else if (gateway !== undefined) {
    if (!isIpv4(gateway)) problems.push({ keyPath: ['network', 'gateway'], problem: `"${gateway}" is not an IPv4 address` });
    else if (!sameSubnet(ip, gateway, Number(prefix))) {
      problems.push({ keyPath: ['network', 'gateway'], problem: `${gateway} is not in eth0's subnet ${address}; give a gateway eth0 can reach` });
    }
  }
  return problems;
}

/** The disk holds the boot partitions, two root slots and the data partition. */
function diskProblems({ recipe }: LoadedRecipe): RecipeProblem[] {
  const problem = diskLayoutProblem(recipe.disk);
  return problem ? [problem] : [];
}

/** Overlays are folders inside the project root. */
function overlayProblems({ recipe, projectRoot }: LoadedRecipe): RecipeProblem[] {
  return recipe.overlays.flatMap((overlay, i) => {
    const problem = folderProblem(projectRoot, overlay);
    return problem ? [{ keyPath: ['overlays', i], problem }] : [];
  });
}

/** The audit logs in as root on the booted image, with the recipe's root password. */
function auditProblems({ recipe }: LoadedRecipe): RecipeProblem[] {
  if (!recipe.audit || recipe.users.some((user) => user.name === 'root')) return [];
  return [{ keyPath: ['audit'], problem: 'Lynis runs as root on the booted image, but users sets no password for root; add a user "root" with a password, or remove audit' }];
}

/** Heartbeat's timers must follow each other: a warning before the peer is declared dead, a first wait longer than both. */
function heartbeatProblems({ recipe }: LoadedRecipe): RecipeProblem[] {
  const timers = recipe.ha?.heartbeat;
  if (!timers) return [];
  const key = (name: string) => ['ha', 'heartbeat', name];
  const problems: RecipeProblem[] = [];
  if (timers.warntimeMs <= timers.keepaliveMs) {
    problems.push({ keyPath: key('warntimeMs'), problem: `is ${timers.warntimeMs}, not above keepaliveMs (${timers.keepaliveMs}); a late heartbeat must be later than one interval` });
  }
  if (timers.deadtimeMs <= timers.warntimeMs) {
    problems.push({ keyPath: key('deadtimeMs'), problem: `is ${timers.deadtimeMs}, not above warntimeMs (${timers.warntimeMs}); raise deadtimeMs or lower warntimeMs` });
  }
  if (timers.initdeadMs < 2 * timers.deadtimeMs) {
    problems.push({ keyPath: key('initdeadMs'), problem: `is ${timers.initdeadMs}, below twice deadtimeMs (${2 * timers.deadtimeMs}); a booting node must give its peer time to appear` });
  }
  return problems;
}

/** A model's ports are the recipe's NICs, and lb-nic-order is there to name them in its order. */
function modelProblems({ recipe }: LoadedRecipe): RecipeProblem[] {
  const { model } = recipe;
  if (!model) return [];
  const problems: RecipeProblem[] = [];
  const ports = model.nics.reduce((sum, group) => sum + group.ports, 0);
  if (ports !== recipe.network.nics) {
    problems.push({ keyPath: ['network', 'nics'], problem: `is ${recipe.network.nics}, but model ${model.id} has ${ports} ports (model.nics); make them agree` });
  }
  if (!recipe.services.enable.includes('lb-nic-order')) {
    problems.push({ keyPath: ['services', 'enable'], problem: `model ${model.id} needs lb-nic-order (overlays/physical) to name its ports in order; add it, and overlays/physical to overlays` });
  }
  return problems;
}

function componentProblems({ recipe, projectRoot }: LoadedRecipe, backend: BaseBackend): RecipeProblem[] {
  const components = recipe.components ?? [];
  if (components.length && backend.name !== 'debian') {
    return [{ keyPath: ['components'], problem: `only the debian backend builds packages from source so far; base.backend is ${backend.name}` }];
  }
  return components.flatMap((c, i) => {
    const problem = c.files === undefined ? undefined : folderProblem(projectRoot, c.files);
    return problem ? [{ keyPath: ['components', i, 'files'], problem }] : [];
  });
}

async function kernelProblems({ recipe, projectRoot }: LoadedRecipe): Promise<RecipeProblem[]> {
  if (recipe.kernel.source !== 'build') return [];
  const { source, fragments } = recipe.kernel.build;
  const problems: RecipeProblem[] = [];
  const tarball = path.resolve(projectRoot, source);
  if (!isFile(tarball)) {
    problems.push({
      keyPath: ['kernel', 'build', 'source'],
      problem: `${tarball} does not exist; install Debian's linux-source-6.1 package (apt-get install linux-source-6.1) or point kernel.build.source at a Linux source tarball`,
    });
  } else if (!(await hasTopLevelKbuild(tarball))) {
    problems.push({
      keyPath: ['kernel', 'build', 'source'],
      problem: `${tarball} is not a Linux source tarball (it has no Kbuild at its top level); point it at one, e.g. Debian's /usr/src/linux-source-6.1.tar.xz`,
    });
  }
  const texts: Array<{ file: string; text: string }> = [];
  fragments.forEach((fragment, i) => {
    const problem = fileProblem(projectRoot, fragment);
    if (problem) problems.push({ keyPath: ['kernel', 'build', 'fragments', i], problem });
    else texts.push({ file: fragment, text: readFileSync(path.resolve(projectRoot, fragment), 'utf8') });
  });
  if (texts.length === fragments.length) {
    const localversion = parseFragments(texts).find((request) => request.symbol === 'CONFIG_LOCALVERSION');
    if (localversion?.wanted !== `"${KERNEL_RELEASE_SUFFIX}"`) {
      const where = localversion ? `${localversion.file}:${localversion.line} sets CONFIG_LOCALVERSION=${localversion.wanted}` : 'no fragment sets CONFIG_LOCALVERSION';
      problems.push({
        keyPath: ['kernel', 'build', 'fragments'],
        problem: `${where}; the appliance kernel's release must end in ${KERNEL_RELEASE_SUFFIX}: set CONFIG_LOCALVERSION="${KERNEL_RELEASE_SUFFIX}" in a fragment`,
      });
    }
  }
  return problems;
}

/** Reads the tarball's listing only until a top-level Kbuild shows up (it comes first in a kernel tree). */
function hasTopLevelKbuild(tarball: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-tf', tarball], { stdio: ['ignore', 'pipe', 'ignore'] });
    let found = false;
    const lines = createInterface({ input: tar.stdout });
    lines.on('line', (line) => {
      if (!found && /^(\.\/)?[^/]+\/Kbuild$|^(\.\/)?Kbuild$/.test(line)) {
        found = true;
        tar.kill();
      }
    });
    tar.on('error', reject);
    tar.on('close', () => resolve(found));
  });
}

function folderProblem(projectRoot: string, relative: string): string | undefined {
  return pathProblem(projectRoot, relative, (info) => info.isDirectory(), 'is not a folder');
}

function fileProblem(projectRoot: string, relative: string): string | undefined {
  return pathProblem(projectRoot, relative, (info) => info.isFile(), 'is not a file');
}

function pathProblem(projectRoot: string, relative: string, isKind: (info: Stats) => boolean, notKind: string): string | undefined {
  const candidate = path.resolve(projectRoot, relative);
  try {
    resolveInside(projectRoot, candidate);
  } catch {
    return `${relative} is outside the project root ${projectRoot}; keep recipe paths inside it`;
  }
  const info = statSync(candidate, { throwIfNoEntry: false });
  if (!info) return `${relative} does not exist (looked for ${candidate})`;
  return isKind(info) ? undefined : `${relative} ${notKind}`;
}

const isFile = (file: string) => statSync(file, { throwIfNoEntry: false })?.isFile() ?? false;

function isIpv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

function sameSubnet(a: string, b: string, prefix: number): boolean {
  const toNumber = (ip: string) => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  const size = 2 ** (32 - prefix);
  return Math.floor(toNumber(a) / size) === Math.floor(toNumber(b) / size);
}
