# The root slot state: GRUB's environment block on the EFI system partition, which the
# grub.cfg beside it reads to choose the slot. ORDER lists the slots by preference;
# <S>_OK=1 says slot S is good, <S>_TRY=1 that it is on trial (GRUB sets it before
# booting S); <S>_VERSION is the appliance version the slot holds (empty: none). Sourced by
# lb-slot-health and lb-update (under set -euo pipefail); every function checks
# its arguments and returns 2 on a wrong one, also where errexit does not apply (in $(...)
# or a condition).

SLOT_GRUBENV=/boot/efi/grub/grubenv
SLOT_VARIABLES='ORDER A_OK A_TRY A_VERSION B_OK B_TRY B_VERSION'

slot_fail() {
  echo "slotlib: $*" >&2
  return 2
}

# slot_check SLOT: SLOT is A or B.
slot_check() {
  (($# == 1)) || { slot_fail "slot_check takes one slot, got $#"; return; }
  [[ $1 == A || $1 == B ]] || { slot_fail "slot '$1' is not A or B"; return; }
}

# slot_booted: prints the slot this system booted from (lb.slot= on the kernel command line).
slot_booted() {
  (($# == 0)) || { slot_fail 'slot_booted takes no arguments'; return; }
  local arg slot=''
  for arg in $(</proc/cmdline); do
    if [[ $arg == lb.slot=* ]]; then slot=${arg#lb.slot=}; fi
  done
  [[ -n $slot ]] || { slot_fail 'no lb.slot= on the kernel command line: not booted from a root slot'; return; }
  slot_check "$slot" || return
  echo "$slot"
}

# slot_get VARIABLE: prints the variable's value in grubenv (nothing when it is unset).
slot_get() {
  (($# == 1)) || { slot_fail "slot_get takes one variable, got $#"; return; }
  [[ " $SLOT_VARIABLES " == *" $1 "* ]] || { slot_fail "'$1' is not a slot variable ($SLOT_VARIABLES)"; return; }
  local list
  list=$(grub-editenv "$SLOT_GRUBENV" list) || { slot_fail "cannot read $SLOT_GRUBENV"; return; }
  sed -n "s/^$1=//p" <<<"$list"
}

# slot_set VARIABLE=VALUE...: sets them in one write. OK and TRY take 0 or 1, ORDER "A B"
# or "B A", VERSION a version such as 8.0.1 or nothing. The block is written to a copy that replaces it, so a power cut leaves either
# the old block or the new one for GRUB.
slot_set() {
  (($# > 0)) || { slot_fail 'slot_set takes at least one VARIABLE=VALUE'; return; }
  local pair name value
  for pair in "$@"; do
    [[ $pair == *=* ]] || { slot_fail "'$pair' is not VARIABLE=VALUE"; return; }
    name=${pair%%=*} value=${pair#*=}
    case $name in
      ORDER) [[ $value == 'A B' || $value == 'B A' ]] || { slot_fail "ORDER '$value' is not \"A B\" or \"B A\""; return; } ;;
      A_OK | A_TRY | B_OK | B_TRY) [[ $value == 0 || $value == 1 ]] || { slot_fail "$name '$value' is not 0 or 1"; return; } ;;
      A_VERSION | B_VERSION) [[ $value =~ ^([0-9]+(\.[0-9]+)*)?$ ]] || { slot_fail "$name '$value' is not a version such as 8.0.1"; return; } ;;
      *) slot_fail "'$name' is not a slot variable ($SLOT_VARIABLES)"; return ;;
    esac
  done
  [[ -f $SLOT_GRUBENV ]] || { slot_fail "no $SLOT_GRUBENV (is the EFI system partition there?)"; return; }
  local new=$SLOT_GRUBENV.new
  # syncfs (sync -f): on FAT, fsync of the file and its folder leaves the rename in memory.
  cp "$SLOT_GRUBENV" "$new" && grub-editenv "$new" set "$@" && sync -f "$new" || { slot_fail "cannot write $new"; return; }
  mv "$new" "$SLOT_GRUBENV" && sync -f "$SLOT_GRUBENV" || { slot_fail "cannot replace $SLOT_GRUBENV"; return; }
}

# slot_mark_good SLOT: SLOT is good and no longer on trial.
slot_mark_good() {
  (($# == 1)) || { slot_fail "slot_mark_good takes one slot, got $#"; return; }
  slot_check "$1" || return
  slot_set "$1_OK=1" "$1_TRY=0"
}

# slot_other SLOT: prints the other slot.
slot_other() {
  (($# == 1)) || { slot_fail "slot_other takes one slot, got $#"; return; }
  slot_check "$1" || return
  if [[ $1 == A ]]; then echo B; else echo A; fi
}

# slot_device SLOT: prints the block device of the slot's partition (by its GPT name).
slot_device() {
  (($# == 1)) || { slot_fail "slot_device takes one slot, got $#"; return; }
  slot_check "$1" || return
  local link=/dev/disk/by-partlabel/root-${1,,}
  [[ -b $link ]] || { slot_fail "no partition named root-${1,,} ($link)"; return; }
  readlink -f "$link"
}
