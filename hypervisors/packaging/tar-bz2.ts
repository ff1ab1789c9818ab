/**
 * A .tar.bz2 of a target's files: a ustar stream (see ustar-stream.ts) piped
 * through the host's bzip2. Node has no bzip2 of its own, and the packaging
 * step, unlike the disk writers, may run a tool.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import type { HostTool } from '../../builder/tools.js';
import { trackTool } from '../../builder/cleanup.js';
import { removeOnFailure } from './remove-on-failure.js';
import { ustarStream, type TarMember } from './ustar-stream.js';

export const TAR_BZ2_TOOLS: readonly HostTool[] = ['bzip2'];

export function writeTarBz2(tarBz2Path: string, members: readonly TarMember[], mtime: number): Promise<string> {
  return removeOnFailure(tarBz2Path, async () => {
    // execa would otherwise also keep all of stdout in memory; stderr is kept for the error message.
    const bzip2 = execa('bzip2', ['--best', '--stdout'], { stdin: 'pipe', stdout: { file: tarBz2Path }, buffer: { stdout: false } });
    const untrack = trackTool(bzip2);
    const fed = pipeline(Readable.from(ustarStream(members, mtime)), bzip2.stdin!);
    // Wait for both, so bzip2 has exited before the caller removes its output.
    const [feeding, compressing] = await Promise.allSettled([fed, bzip2]);
    untrack();
    if (compressing.status === 'rejected') throw compressing.reason;
    if (feeding.status === 'rejected') throw feeding.reason;
  });
}
