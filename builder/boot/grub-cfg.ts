/**
 * GRUB's configuration of the A/B disk, in two parts:
 * - grub.cfg, on the EFI system partition (where the core image set root and prefix),
 *   with grubenv beside it: written once with the disk, it knows the disk's partitions.
 *   It picks the slot from grubenv (builder/boot/slots.ts), marks it on trial with
 *   save_env, and sources the chosen slot's slot.cfg.
 * - slot.cfg, in each root slot's /boot/grub: what that slot boots (its kernel and
 *   command line). An update writes a whole slot, so a new version brings its own.
 * A slot whose entry fails in GRUB (an empty slot: no slot.cfg) falls back to the other
 * at once; one that fails later stays on trial and is passed over on the next boot.
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

/** grub.cfg for the EFI system partition; `slotPartitions` are the slots' GPT partition numbers. */
export function grubCfg(title: string, config: BootConfig, slotPartitions: Record<Slot, number>): string {
  return [
    '# GRUB configuration of the appliance, on the EFI system partition (grub/grub.cfg,',
    "# beside grubenv): boots root slot A or B, as grubenv says, by the slot's own slot.cfg.",
    `set timeout_style=${GRUB_TIMEOUT_STYLE}`,
    `set timeout=${GRUB_TIMEOUT}`,
    'serial --unit=0 --speed=115200',
    'terminal_input console serial',
    'terminal_output console serial',
    '',
    CHOOSE_SLOT,
    ...SLOTS.flatMap((slot) => menuEntry(title, config, slot, slotPartitions[slot])),
  ].join('\n');
}

/** The variables grub.cfg sets for slot.cfg: the slot's name and its partition's UUID. */
export const SLOT_CFG_VARIABLES = { slot: 'lb_slot', partUuid: 'lb_partuuid' } as const;

function menuEntry(title: string, config: BootConfig, slot: Slot, partition: number): string[] {
  return [
    `menuentry '${title} (slot ${slot})' {`,
    // root is the EFI system partition's, e.g. hd0,gpt2; the slot is on the same disk.
    `\tregexp --set=1:lb_disk '^([^,]+),' "$root"`,
    `\tset root="$lb_disk,gpt${partition}"`,
    `\tset ${SLOT_CFG_VARIABLES.slot}=${slot}`,
    `\tset ${SLOT_CFG_VARIABLES.partUuid}=${config.slots[slot].partUuid}`,
    `\tsource /boot/grub/slot.cfg`,
    '}',
    '',
  ];
}

/** slot.cfg: the slot's kernel, given the slot's partition by the variables grub.cfg set. */
export function slotCfg(title: string, config: BootConfig): string {
  const { slot, partUuid } = SLOT_CFG_VARIABLES;
  const root = config.initramfs ? `root=PARTUUID=$${partUuid}` : `root=PARTUUID=$${partUuid} rootfstype=ext4 rootwait`;
  return [
    `# What this root slot boots (${title}). grub.cfg on the EFI system partition sources`,
    `# it with root set to the slot's partition and ${slot}, ${partUuid} set.`,
    `linux /boot/vmlinuz-${config.kernelVersion} ${root} lb.slot=$${slot} ${config.cmdline.join(' ')}`,
    ...(config.initramfs ? [`initrd /boot/initrd.img-${config.kernelVersion}`] : []),
    '',
  ].join('\n');
}
