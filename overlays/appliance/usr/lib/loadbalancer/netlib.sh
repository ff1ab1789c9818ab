# IPv4 helpers shared by the network wizard, lb-apply-network and lbsecure.

# is_ipv4 ADDRESS: four dot-separated numbers 0-255, no leading zeros.
is_ipv4() {
  local IFS=. part count=0
  [[ $1 =~ ^[0-9]+(\.[0-9]+){3}$ ]] || return 1
  for part in $1; do
    [[ $part =~ ^(0|[1-9][0-9]{0,2})$ ]] && ((part <= 255)) || return 1
    count=$((count + 1))
  done
  ((count == 4))
}

# ipv4_to_int ADDRESS: prints the address as a 32-bit integer.
ipv4_to_int() {
  local IFS=. a b c d
  read -r a b c d <<<"$1"
  echo $(((a << 24) | (b << 16) | (c << 8) | d))
}

# is_cidr ADDRESS/PREFIX: a valid address with a prefix length of 1 to 32.
is_cidr() {
  [[ $1 == */* ]] || return 1
  local prefix=${1#*/}
  is_ipv4 "${1%/*}" && [[ $prefix =~ ^[0-9]{1,2}$ ]] && ((prefix >= 1 && prefix <= 32))
}

# same_subnet ADDRESS/PREFIX OTHER: OTHER lies in ADDRESS's subnet.
same_subnet() {
  local prefix=${1#*/} mask
  mask=$(((0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF))
  (( ($(ipv4_to_int "${1%/*}") & mask) == ($(ipv4_to_int "$2") & mask) ))
}
