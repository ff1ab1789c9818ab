/**
 * The root filesystem: ext4 made from a folder with `mke2fs -d` (no mounts, no loop
 * devices), then made reproducible. mke2fs copies each source file's access and change
 * times, which differ on every extraction, so debugfs sets them to SOURCE_DATE_EPOCH;
 * debugfs stamps the superblock with the current time on exit, so we reset that field
 * and its checksum ourselves.
 */
import { lstat, open, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { crc32c } from '../checksum/crc32c.js';
import { run } from '../exec.js';
import { BuildError } from '../errors.js';

const BLOCK = 4096;
const INODE_SIZE = 256;
/** ext4 superblock (at byte 1024): s_wtime, s_wtime_hi and s_checksum offsets. */
const SUPERBLOCK_OFFSET = 1024;
const S_WTIME = 0x30;
const S_WTIME_HI = 0x274;
const S_CHECKSUM = 0x3fc;

export interface Ext4Options {
  sourceDir: string;
  image: string;
  size: number;
  uuid: string;
  label: string;
  epoch: number;
}

/** Bytes the tree needs in ext4 (data, inodes, journal, reserve), estimated on the safe side. */
export async function ext4SpaceNeeded(root: string): Promise<number> {
  let blocks = 0;
  let inodes = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      inodes++;
      if (entry.isDirectory()) {
        blocks++;
        await walk(full);
      } else if (entry.isFile()) {
        blocks += Math.ceil((await lstat(full)).size / BLOCK);
      }
    }
  };
  await walk(root);
  const data = blocks * BLOCK + inodes * INODE_SIZE * 4;
  const journalAndMetadata = 80 * 1024 * 1024;
  return Math.ceil(data * 1.1) + journalAndMetadata;
}

export async function makeExt4(options: Ext4Options): Promise<void> {
  const { sourceDir, image, size, uuid, label, epoch } = options;
  await run(
    'mke2fs',
    ['-q', '-t', 'ext4', '-b', String(BLOCK), '-I', String(INODE_SIZE), '-L', label, '-U', uuid,
      '-E', `hash_seed=${uuid},root_owner=0:0`, '-d', sourceDir, '-F', image, `${size / 1024}k`],
    { env: { E2FSPROGS_FAKE_TIME: String(epoch) } },
  );
  await clampInodeTimes(sourceDir, image, epoch);
  await setSuperblockWriteTime(image, epoch);
}

async function clampInodeTimes(sourceDir: string, image: string, epoch: number): Promise<void> {
  const commands: string[] = [];
  const addPath = (imagePath: string) => {
    if (/["\n]/.test(imagePath)) throw new BuildError(`cannot store a file name with a double quote or newline: ${imagePath}`);
    for (const field of ['atime', 'ctime', 'crtime']) commands.push(`sif "${imagePath}" ${field} @${epoch}`);
    for (const field of ['atime_extra', 'ctime_extra', 'crtime_extra', 'mtime_extra']) commands.push(`sif "${imagePath}" ${field} 0`);
  };
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const imagePath = `${prefix}/${entry.name}`;
      addPath(imagePath);
      if (entry.isDirectory()) await walk(path.join(dir, entry.name), imagePath);
    }
  };
  addPath('/');
  addPath('/lost+found');
  await walk(sourceDir, '');
  const script = `${image}.debugfs`;
  await writeFile(script, `${commands.join('\n')}\n`);
  const output: string[] = [];
  await run('debugfs', ['-w', '-f', script, image], { onLine: (line) => output.push(line) });
  const failure = output.find((line) => !line.startsWith('debugfs') && line.trim() !== '');
  if (failure) throw new BuildError(`debugfs could not set inode times: ${failure}`);
}

async function setSuperblockWriteTime(image: string, epoch: number): Promise<void> {
  const file = await open(image, 'r+');
  try {
    const superblock = Buffer.alloc(1024);
    await file.read(superblock, 0, superblock.length, SUPERBLOCK_OFFSET);
    superblock.writeUInt32LE(epoch >>> 0, S_WTIME);
    superblock[S_WTIME_HI] = Math.floor(epoch / 2 ** 32);
    // ext4 stores the CRC-32C register without the final inversion.
    superblock.writeUInt32LE((crc32c(superblock.subarray(0, S_CHECKSUM)) ^ 0xffffffff) >>> 0, S_CHECKSUM);
    await file.write(superblock, 0, superblock.length, SUPERBLOCK_OFFSET);
  } finally {
    await file.close();
  }
}
