#!/usr/bin/env node
/**
 * The lbbuild command line. The only place that prints errors and picks exit codes:
 * 0 success, 2 bad input (recipe, arguments), 1 build or test failure.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UserError } from './errors.js';
import { loadRecipe } from './recipe/load.js';
import { buildImage } from './build.js';
import { defaultCacheDir, StageCache } from './cache.js';
import { backendFor } from './backends/index.js';
import { planBuild, requireValidRecipe } from './plan/plan.js';
import { formatPlan, planJson } from './plan/report.js';
import { defaultRecipeFor, TARGETS } from '../hypervisors/registry.js';
import { DEBIAN_PACKAGE_OF, findOnPath } from './tools.js';
import { cleanUpOnSignals } from './cleanup.js';
import { runApplianceTests } from '../test-vms/run.js';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', ...(import.meta.url.includes('/dist/') ? ['..'] : []));
const DEFAULT_CACHE = defaultCacheDir();

interface Command {
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  positionals?: boolean;
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>;
}

const PLAN_OPTIONS = {
  recipe: { type: 'string' },
  target: { type: 'string' },
  cache: { type: 'string' },
  json: { type: 'boolean' },
  'no-audit': { type: 'boolean' },
} as const;

const planOptions = (values: Record<string, string | boolean | undefined>) => ({
  recipeFile: String(values.recipe ?? path.join(PROJECT_ROOT, defaultRecipeFor(String(values.target ?? 'raw'), 'recipes/appliance.yaml'))),
  targets: String(values.target ?? 'raw'),
  cacheDir: String(values.cache ?? DEFAULT_CACHE),
  audit: !values['no-audit'],
});

const COMMANDS: Record<string, Command> = {
  image: {
    usage: `lbbuild image [--recipe FILE] [--target LIST] [--out DIR] [--cache DIR] [--no-audit] [--json]

Builds the appliance from a recipe and writes the targets' artifacts and manifest.json.
It plans first (see "lbbuild plan"): a recipe error stops it within seconds, before any stage.

  --recipe FILE   recipe to build (default: recipes/appliance.yaml; for physical-<model>,
                  the model's recipes/models/<model>.yaml)
  --target LIST   comma-separated targets, or "all": every target of the recipe (default:
                  raw); see "lbbuild targets". A physical model's recipe builds only its
                  physical-<model> target (and raw); the others build the virtual appliance
  --out DIR       where artifacts and manifest.json go (default: out); give each recipe its
                  own, since each build writes its manifest.json there
  --cache DIR     stage cache (default: ${DEFAULT_CACHE}; LBBUILD_CACHE sets another default)
  --no-audit      skip the recipe's audit (Lynis on the booted image; minutes under TCG);
                  the manifest then has no hardening record. For development builds.
  --json          print one JSON summary (artifacts, sha256, durations) instead of progress

SOURCE_DATE_EPOCH fixes every timestamp; without it the time of the last commit that
changed the recipe files is used. LBBUILD_UPDATE_SIGNING_KEY names the Ed25519 private key
(PEM) that signs update bundles (--target update and physical-<model>; the recipe's
update.signingKey otherwise);
its public half is built into the image, which then takes only bundles it signed.`,
    options: { ...PLAN_OPTIONS, out: { type: 'string' } },
    async run(values) {
      const summary = await buildImage({
        ...planOptions(values),
        outDir: String(values.out ?? 'out'),
        progress: values.json ? 'silent' : 'default',
      });
      if (values.json) {
        process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      } else {
        for (const a of summary.artifacts) process.stdout.write(`${a.file}\n  sha256 ${a.sha256}  ${a.size} bytes\n`);
        process.stdout.write(`${summary.manifest}\n`);
      }
      return 0;
    },
  },
  plan: {
    usage: `lbbuild plan [--recipe FILE] [--target LIST] [--cache DIR] [--no-audit] [--json]

Runs every check of "lbbuild image" that needs no build (the recipe's cross-field rules,
the files it names, the targets' limits, the host tools) and prints the stage graph:
each stage with its key, its inputs (files with their sha256, tools with their package
versions, its parents) and whether the cache already has it. Builds nothing.

  --json          the graph as JSON, for pipelines that split it over workers

The other options are those of "lbbuild image".`,
    options: PLAN_OPTIONS,
    async run(values) {
      const plan = await planBuild(planOptions(values));
      process.stdout.write(values.json ? `${JSON.stringify(planJson(plan), null, 2)}\n` : formatPlan(plan));
      return 0;
    },
  },
  validate: {
    usage: `lbbuild validate FILE

Checks a recipe (and the recipes it extends): the schema, then every rule that needs no
build and no target (files it names, values that depend on each other). Prints each
problem with file, line and column.`,
    options: {},
    positionals: true,
    async run(_, positionals) {
      if (positionals.length !== 1) throw new UserError('validate: give exactly one recipe file, e.g. lbbuild validate recipes/appliance.yaml');
      const loaded = await loadRecipe(positionals[0]!);
      await requireValidRecipe(loaded, backendFor(loaded.recipe.base.backend), new StageCache(DEFAULT_CACHE).downloads);
      process.stdout.write(`${loaded.file}: valid (${loaded.layers.length} layer${loaded.layers.length > 1 ? 's' : ''})\n`);
      return 0;
    },
  },
  targets: {
    usage: `lbbuild targets

Lists the targets "lbbuild image --target" accepts, and whether this host has the
tools each one needs.`,
    options: {},
    async run() {
      const width = Math.max(...TARGETS.map((t) => t.name.length));
      for (const t of TARGETS) {
        const missing = (t.tools ?? []).filter((tool) => !findOnPath(tool));
        const state = missing.length ? `missing ${missing.map((m) => `${m} (apt-get install ${DEBIAN_PACKAGE_OF[m]})`).join(', ')}` : 'available';
        process.stdout.write(`${t.name.padEnd(width)}  ${state}  ${t.summary}\n`);
      }
      return 0;
    },
  },
  test: {
    usage: `lbbuild test --image FILE [--firmware bios|uefi] [--transcript FILE]

Boots a raw appliance image in QEMU (KVM when /dev/kvm is usable, else TCG) and runs
the appliance checks over the serial console, one pass/fail line per check. The image
itself is not modified (QEMU runs with a temporary overlay).`,
    options: {
      image: { type: 'string' },
      firmware: { type: 'string' },
      transcript: { type: 'string' },
    },
    async run(values) {
      if (!values.image) throw new UserError('test: --image FILE is required (a raw disk built by "lbbuild image")');
      const firmware = String(values.firmware ?? 'bios');
      if (firmware !== 'bios' && firmware !== 'uefi') throw new UserError(`test: --firmware must be bios or uefi, not "${firmware}"`);
      const { results } = await runApplianceTests({
        image: String(values.image),
        firmware,
        transcript: values.transcript ? String(values.transcript) : undefined,
        report: (line) => process.stdout.write(`${line}\n`),
      });
      return results.every((r) => r.ok) ? 0 : 1;
    },
  },
};

const MAIN_USAGE = `usage: lbbuild <command> [options]

commands:
  image      build the appliance and write target artifacts
  plan       check a recipe and show the stages a build would run, without building
  validate   check a recipe against the schema and its rules
  targets    list the available targets
  test       boot an image in QEMU and run the appliance checks

"lbbuild <command> --help" describes a command.`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${MAIN_USAGE}\n`);
    return name ? 0 : 2;
  }
  if (name === '--version') {
    const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
    process.stdout.write(`lbbuild ${pkg.version}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) throw new UserError(`unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')}`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`usage: ${command.usage}\n`);
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: command.positionals ?? false, strict: true });
  } catch (error) {
    throw new UserError(`${name}: ${(error as Error).message}\nusage: ${command.usage.split('\n')[0]}`);
  }
  return command.run(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals);
}

cleanUpOnSignals();
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const err = error as Error;
    process.stderr.write(`lbbuild: ${err.message}\n`);
    if (process.env.LBBUILD_DEBUG && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exit(error instanceof UserError ? 2 : 1);
  },
);
