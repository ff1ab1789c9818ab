import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadRecipe } from './load.js';
import { RecipeError, UserError } from '../errors.js';

const REPO = path.resolve(import.meta.dirname, '../..');

/** A throwaway copy of the project's recipes and overlays, plus the given recipe files. */
async function project(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'lbbuild-recipe-'));
  await cp(path.join(REPO, 'recipes'), path.join(root, 'recipes'), { recursive: true });
  await cp(path.join(REPO, 'overlays'), path.join(root, 'overlays'), { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(root, 'recipes', name), text);
  return root;
}

async function recipeError(file: string): Promise<RecipeError> {
  const error = await loadRecipe(file).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof RecipeError, `expected a RecipeError, got ${String(error)}`);
  return error;
}

const applianceChild = (extra: string) => `extends: appliance.yaml\n${extra}`;

test('the shipped recipes are valid, and lists add up along extends', async () => {
  const { recipe, layers } = await loadRecipe(path.join(REPO, 'recipes/appliance.yaml'));
  assert.equal(layers.length, 2);
  assert.ok(recipe.base.packages.includes('systemd-sysv'), 'from base-debian.yaml');
  assert.ok(recipe.base.packages.includes('haproxy'), 'from appliance.yaml');
  assert.equal(recipe.hostname, 'lbmaster');
  assert.equal(recipe.disk.boot, 'both');
});

test('an unknown key names file, line, column, path and the allowed keys', async () => {
  const root = await project({ 'a.yaml': 'extends: appliance.yaml\nnetwork:\n  address: 192.168.2.21/24\n  nics: 4\n  mtu: 9000\n' });
  const file = path.join(root, 'recipes', 'a.yaml');
  const error = await recipeError(file);
  assert.equal(error.file, file);
  assert.equal(error.line, 5);
  assert.equal(error.column, 3);
  assert.equal(error.keyPath, 'network.mtu');
  assert.match(error.message, /unknown key "mtu"; expected one of: address, gateway, nics/);
});

test('a wrong type points at the value, with the option description', async () => {
  const root = await project({});
  const file = path.join(root, 'recipes', 'child.yaml');
  await writeFile(file, applianceChild('vm:\n  cpus: many\n'));
  const error = await recipeError(file);
  assert.deepEqual([error.line, error.column, error.keyPath], [3, 9, 'vm.cpus']);
  assert.equal(error.file, file);
  assert.match(error.message, /must be integer; expected virtual CPUs/);
});

test('a size in the wrong unit lists the accepted forms', async () => {
  const root = await project({});
  const file = path.join(root, 'recipes', 'child.yaml');
  await writeFile(file, applianceChild('disk:\n  size: 2GB\n'));
  const error = await recipeError(file);
  assert.equal(error.keyPath, 'disk.size');
  assert.match(error.message, /a number followed by MiB, GiB or TiB/);
});

test('an error in an extended recipe is blamed on that file', async () => {
  const root = await project({
    'base.yaml': 'extends: appliance.yaml\nhostname: Not_Valid\n',
    'child.yaml': 'extends: base.yaml\nversion: "8.1"\n',
  });
  const error = await recipeError(path.join(root, 'recipes', 'child.yaml'));
  assert.equal(error.file, path.join(root, 'recipes', 'base.yaml'));
  assert.equal(error.line, 2);
  assert.equal(error.keyPath, 'hostname');
});

test('a missing required key is reported', async () => {
  const root = await project({ 'r.yaml': 'name: x\n' });
  const error = await recipeError(path.join(root, 'recipes', 'r.yaml'));
  assert.match(error.message, /missing required key "version"/);
});

test('YAML syntax errors and duplicate keys carry positions', async () => {
  const root = await project({ 'bad.yaml': 'name: x\nversion: "8.0\n', 'dup.yaml': 'name: a\nname: b\n' });
  const syntax = await recipeError(path.join(root, 'recipes', 'bad.yaml'));
  assert.match(syntax.message, /YAML syntax error/);
  assert.ok(syntax.line >= 2, 'the unterminated string is on line 2 or after');
  const duplicate = await recipeError(path.join(root, 'recipes', 'dup.yaml'));
  assert.equal(duplicate.line, 2);
  assert.match(duplicate.message, /YAML syntax error: Map keys must be unique/);
});

test('extends cycles and paths outside the project are refused', async () => {
  const root = await project({ 'a.yaml': 'extends: b.yaml\n', 'b.yaml': 'extends: a.yaml\n', 'c.yaml': 'extends: ../../../etc/passwd\n' });
  await assert.rejects(loadRecipe(path.join(root, 'recipes', 'a.yaml')), (e: Error) => e instanceof UserError && /cycle/.test(e.message));
  const outside = await recipeError(path.join(root, 'recipes', 'c.yaml'));
  assert.equal(outside.keyPath, 'extends');
  assert.match(outside.message, /outside the project root/);
});

test('a missing recipe file is a clear error', async () => {
  await assert.rejects(loadRecipe('/nonexistent/recipes/x.yaml'), /cannot read recipe \/nonexistent\/recipes\/x\.yaml: ENOENT/);
});

test('kernel.source build without kernel.build is refused at the kernel mapping, saying what build is', async () => {
  const appliance = await readFile(path.join(REPO, 'recipes/appliance.yaml'), 'utf8');
  const withoutBuild = appliance.replace(/^  build:\n(?: {4}.*\n)+/m, '');
  assert.notEqual(withoutBuild, appliance);
  const root = await project({ 'k.yaml': withoutBuild });
  const error = await recipeError(path.join(root, 'recipes', 'k.yaml'));
  const line = withoutBuild.split('\n').indexOf('kernel:') + 2;
  assert.match(error.message, new RegExp(`k\\.yaml:${line}:\\d+: kernel: missing required key "build" \\(how the appliance kernel is built\\)`));
});
