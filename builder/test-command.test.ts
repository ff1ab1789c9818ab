import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO } from '../test-vms/build-helpers.js';

/** The test files `npm test` runs, its globs expanded as the shell does. */
async function filesOfTestCommand(script: string): Promise<string[]> {
  const files: string[] = [];
  for (const word of script.split(/\s+/).filter((w) => w.endsWith('.test.ts'))) {
    if (!word.includes('*')) {
      files.push(word);
      continue;
    }
    const [folderPattern, namePattern] = [path.dirname(word), path.basename(word)];
    const folders = folderPattern.includes('*') ? await subfolders(path.dirname(folderPattern)) : [folderPattern];
    const name = new RegExp(`^${namePattern.replace(/\./g, '\\.').replace(/\*/g, '[^/]*')}$`);
    for (const folder of folders) files.push(...(await readdir(path.join(REPO, folder))).filter((n) => name.test(n)).sort().map((n) => path.join(folder, n)));
  }
  return files;
}

async function subfolders(folder: string): Promise<string[]> {
  const entries = await readdir(path.join(REPO, folder), { withFileTypes: true });
  return entries.filter((e) => e.isDirectory()).map((e) => path.join(folder, e.name)).sort();
}

async function testFilesInTree(folder: string): Promise<string[]> {
  const entries = await readdir(path.join(REPO, folder), { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.test.ts')).map((e) => path.relative(REPO, path.join(e.parentPath, e.name)));
}

test('npm test runs every test file of the project exactly once', async () => {
  const script = JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')).scripts.test as string;
  const listed = await filesOfTestCommand(script);
  const duplicates = listed.filter((file, index) => listed.indexOf(file) !== index);
  assert.deepEqual(duplicates, [], 'named twice (node would run them twice)');
  const present = (await Promise.all(['builder', 'hypervisors', 'test-vms'].map(testFilesInTree))).flat().sort();
  assert.deepEqual([...listed].sort(), present, 'package.json "test" and the tree name the same test files');
});
