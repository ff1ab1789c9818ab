/**
 * The two root slots of the A/B layout and the state GRUB chooses between them by, kept
 * in grubenv on the EFI system partition (variables as in RAUC's contrib/grub.conf):
 * ORDER lists the slots by preference; a slot with <S>_OK=1 and <S>_TRY=0 may boot; GRUB
 * sets <S>_TRY=1 before booting it, and lb-slot-health sets it back to 0 once the
 * appliance's services are up. A slot left with TRY=1 is passed over on the next boot.
 * <S>_VERSION is the appliance version in the slot, for lb-update status (GRUB ignores it).
 */
export type Slot = 'A' | 'B';
export const SLOTS: readonly Slot[] = ['A', 'B'];

/** The GPT partition name of a slot (also the seed of its partition UUID). */
export function slotPartition(slot: Slot): 'root-a' | 'root-b' {
  return slot === 'A' ? 'root-a' : 'root-b';
}

/** The factory state: slot A holds the image (of `version`) and is good; slot B is empty. */
export function initialSlotState(version: string): Record<string, string> {
  return { ORDER: 'A B', A_OK: '1', A_TRY: '0', A_VERSION: version, B_OK: '0', B_TRY: '0', B_VERSION: '' };
}
