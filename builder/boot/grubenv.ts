/**
 * GRUB's environment block (grub-core/lib/envblk.c): a 1024-byte file that starts with
 * "# GRUB Environment Block\n", holds one NAME=VALUE line a variable and is padded with
 * '#' to its full size. GRUB's save_env rewrites the file's sectors in place, so the file
 * must exist at its full size before GRUB can write to it.
 */
import { BuildError } from '../errors.js';

export const GRUBENV_SIZE = 1024;
const HEADER = '# GRUB Environment Block\n';
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The block holding `variables` in their order; a backslash or newline in a value is escaped as GRUB does. */
export function encodeGrubEnv(variables: Record<string, string>): Buffer {
  let text = HEADER;
  for (const [name, value] of Object.entries(variables)) {
    if (!NAME.test(name)) throw new BuildError(`grubenv: "${name}" is not a GRUB variable name (letters, digits and _, not first a digit)`);
    text += `${name}=${value.replace(/[\\\n]/g, (c) => `\\${c}`)}\n`;
  }
  const block = Buffer.from(text, 'utf8');
  if (block.length > GRUBENV_SIZE) {
    throw new BuildError(`grubenv: the variables take ${block.length} bytes, more than the block's ${GRUBENV_SIZE}`);
  }
  return Buffer.concat([block, Buffer.alloc(GRUBENV_SIZE - block.length, '#')]);
}
