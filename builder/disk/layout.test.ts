import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { UserError } from '../errors.js';
import type { Recipe } from '../recipe/schema.js';
import { diskLayout, diskLayoutProblem, sfdiskScript, ESP_SIZE, MiB, type Partition } from './layout.js';

const GiB = 1024 * MiB;
const disk = (over: Partial<Recipe['disk']> = {}): Recipe['disk'] => ({ size: '2GiB', boot: 'both', ...over });
const byName = (partitions: Partition[]) => Object.fromEntries(partitions.map((p) => [p.name, p]));

test('the default disk: bios, esp, two equal root slots and 256 MiB of data at the end, aligned and not overlapping', () => {
  const { size, partitions } = diskLayout(disk());
  assert.equal(size, 2 * GiB);
  assert.deepEqual(partitions.map((p) => p.name), ['bios', 'esp', 'root-a', 'root-b', 'data']);
  const p = byName(partitions);
  assert.equal(p.esp!.size, ESP_SIZE);
  assert.equal(p['root-a']!.size, p['root-b']!.size);
  assert.equal(p['root-a']!.size, 862 * MiB, '(2048 - 1 - 1 - 64 - 256 - 1) / 2 MiB, rounded down');
  assert.equal(p.data!.size, 256 * MiB);
  assert.equal(p.data!.offset + p.data!.size, size - MiB, 'the last MiB is left for the backup GPT');
  assert.equal(partitions[0]!.offset, MiB);
  for (const [i, part] of partitions.entries()) {
    assert.equal(part.offset % MiB, 0, `${part.name} is MiB-aligned`);
    if (i > 0) assert.ok(part.offset >= partitions[i - 1]!.offset + partitions[i - 1]!.size, `${part.name} after ${partitions[i - 1]!.name}`);
  }
});

test('a UEFI-only disk has no BIOS boot partition; a BIOS-only disk keeps the ESP, where grub.cfg and grubenv are', () => {
  assert.deepEqual(diskLayout(disk({ boot: 'uefi' })).partitions.map((p) => p.name), ['esp', 'root-a', 'root-b', 'data']);
  assert.deepEqual(diskLayout(disk({ boot: 'bios' })).partitions.map((p) => p.name), ['bios', 'esp', 'root-a', 'root-b', 'data']);
});

test('disk.dataSize sizes the data partition; an odd MiB left over by the slots stays unused', () => {
  const p = byName(diskLayout(disk({ size: '3GiB', dataSize: '1GiB' })).partitions);
  assert.equal(p.data!.size, GiB);
  assert.equal(p['root-a']!.size, 990 * MiB, '(3072 - 1 - 1 - 64 - 1024 - 1) / 2 MiB, rounded down');
  assert.equal(p.data!.offset, 3 * GiB - MiB - GiB);
  assert.ok(p['root-b']!.offset + p['root-b']!.size <= p.data!.offset);
});

test('a disk too small for two root slots is refused at disk.size, naming the size that fits', () => {
  const problem = diskLayoutProblem(disk({ size: '512MiB', dataSize: '400MiB' }));
  assert.deepEqual(problem?.keyPath, ['disk', 'size']);
  assert.match(problem!.problem, /^512MiB leaves no room for two root slots of at least 64 MiB .*\(disk\.dataSize 400MiB\); set disk\.size to at least "595MiB", or make disk\.dataSize smaller$/);
  assert.equal(diskLayoutProblem(disk({ size: '595MiB', dataSize: '400MiB' })), undefined, 'the size it names fits');
  assert.throws(() => diskLayout(disk({ size: '512MiB', dataSize: '400MiB' })), (e: Error) => e instanceof UserError && e.message.startsWith('disk.size: 512MiB leaves no room'));
});

test('a data size that is not whole MiB or below 32 MiB is refused at disk.dataSize', () => {
  assert.deepEqual(diskLayoutProblem(disk({ dataSize: 16 * MiB + 512 }))?.keyPath, ['disk', 'dataSize']);
  assert.match(diskLayoutProblem(disk({ dataSize: '16MiB' }))!.problem, /^16MiB is not a whole number of MiB of at least 32 MiB; use e\.g\. "256MiB"$/);
});

test('sfdisk writes the layout to a file and reads back every partition, name and unique UUID', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'lbbuild-layout-'));
  try {
    const file = path.join(dir, 'disk.raw');
    const { size, partitions } = diskLayout(disk());
    const handle = await open(file, 'w');
    await handle.truncate(size);
    await handle.close();
    await execa('sfdisk', ['--no-reread', '--no-tell-kernel', file], { input: sfdiskScript(partitions, 'seed') });
    const table = JSON.parse((await execa('sfdisk', ['--json', file])).stdout).partitiontable;
    assert.deepEqual(
      table.partitions.map((p: { name: string; start: number; size: number }) => [p.name, p.start * 512, p.size * 512]),
      partitions.map((p) => [p.name, p.offset, p.size]),
    );
    assert.equal(new Set(table.partitions.map((p: { uuid: string }) => p.uuid)).size, partitions.length);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
