/**
 * grub.cfg of the A/B disk. GRUB reads it from the EFI system partition, where its core
 * image set root and prefix, with grubenv beside it. It picks the slot from grubenv
 * (builder/boot/slots.ts), marks it on trial with save_env, and boots that slot's kernel
 * from the slot's own filesystem. A slot whose entry fails in GRUB (no kernel there)
 * falls back to the other at once; one that fails later stays on trial and is passed
 * over on the next boot.
 */
import type { BootConfig } from './config.js';
import { SLOTS, type Slot } from './slots.js';

/**
 * The menu is hidden and not waited for: a headless appliance boots its entry at once.
 * Esc (or a hotkey) pressed while the firmware hands over to GRUB shows the menu.
 */
export const GRUB_TIMEOUT = 0;
export const GRUB_TIMEOUT_STYLE = 'hidden';

/** Chooses the slot; the variables are those of builder/boot/slots.ts. */
const CHOOSE_SLOT = `# Where grubenv cannot be read, no slot is good and the last resort below boots A.
set ORDER="A B"
set A_OK=0
set A_TRY=0
set B_OK=0
set B_TRY=0
load_env ORDER A_OK A_TRY B_OK B_TRY

# The first slot in ORDER that is good and not on trial; it is on trial from now on.
set slot=
for s in $ORDER; do
  if [ "$s" = A -a "$A_OK" = 1 -a "$A_TRY" = 0 ]; then
    set slot=A
    set A_TRY=1
    break
  fi
  if [ "$s" = B -a "$B_OK" = 1 -a "$B_TRY" = 0 ]; then
    set slot=B
    set B_TRY=1
    break
  fi
done
if [ -n "$slot" ]; then
  save_env A_TRY B_TRY
else
  # Every slot failed its try: boot the first in ORDER rather than none.
  for s in $ORDER; do set slot=$s; break; done
fi
# By number (A first): GRUB 2.06 takes no id for fallback.
if [ "$slot" = B ]; then
  set default=1
  set fallback=0
else
  set default=0
  set fallback=1
fi
`;

export function grubCfg(title: string, config: BootConfig): string {
  return [
    '# GRUB configuration of the appliance: GRUB reads the copy on the EFI system partition',
    '# (grub/grub.cfg, beside grubenv) and boots root slot A or B as grubenv says.',
    `set timeout_style=${GRUB_TIMEOUT_STYLE}`,
    `set timeout=${GRUB_TIMEOUT}`,
    'serial --unit=0 --speed=115200',
    'terminal_input console serial',
    'terminal_output console serial',
    '',
    CHOOSE_SLOT,
    ...SLOTS.flatMap((slot) => menuEntry(title, config, slot)),
  ].join('\n');
}

function menuEntry(title: string, config: BootConfig, slot: Slot): string[] {
  const { fsUuid, partUuid } = config.slots[slot];
  const root = config.initramfs ? `root=PARTUUID=${partUuid}` : `root=PARTUUID=${partUuid} rootfstype=ext4 rootwait`;
  return [
    `menuentry '${title} (slot ${slot})' {`,
    `\tsearch --no-floppy --fs-uuid --set=root ${fsUuid}`,
    `\tlinux /boot/vmlinuz-${config.kernelVersion} ${root} lb.slot=${slot} ${config.cmdline.join(' ')}`,
    ...(config.initramfs ? [`\tinitrd /boot/initrd.img-${config.kernelVersion}`] : []),
    '}',
    '',
  ];
}
