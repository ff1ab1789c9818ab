/** Which systemd units start at boot, and which never do. */
import { inChroot, type StepContext } from './chroot.js';

const unit = (name: string) => (name.includes('.') ? name : `${name}.service`);

export async function configureServices(root: string, ctx: StepContext): Promise<void> {
  const { enable, disable, mask = [] } = ctx.recipe.services;
  if (enable.length) await inChroot(root, ctx, ['systemctl', 'enable', ...enable.map(unit)]);
  if (disable.length) await inChroot(root, ctx, ['systemctl', 'disable', ...disable.map(unit)]);
  if (mask.length) await inChroot(root, ctx, ['systemctl', 'mask', ...mask.map(unit)]);
}
