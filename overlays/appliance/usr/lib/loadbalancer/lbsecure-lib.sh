# lbsecure's steps, shared by lbsecure (run by an administrator, on a single appliance
# or the master of an HA pair) and peer.d/lbsecure (the same request on the slave).
#
# Everything is prepared first (prepare_*: the firewall file rendered to .new and checked
# by nft with the rest of the ruleset, password hashes made, new host keys made aside,
# the previous state copied to a backup folder), then applied in one go (apply_all);
# a step that fails undoes the steps before it from the backup (restore_all).
#
# Callers set BACKUP (a root-only folder for the previous state) and STAGE (a root-only
# folder for what is prepared) and source netlib.sh first. The functions return non-zero
# with a message on standard error; they never exit.

LBSECURE_NFT=/etc/nftables.d/lbsecure.nft
WUI_HTPASSWD=/etc/loadbalancer/wui.htpasswd
KNOWN_HOSTS=/root/.ssh/known_hosts
# The HA pair's own known_hosts (lbcli's pairing writes it; its SSH calls trust it).
PAIR_KNOWN_HOSTS=/etc/loadbalancer/ha/known_hosts
SERVICES_JSON=/etc/loadbalancer/services.json
MANAGEMENT_PORTS='22, 9080, 9443'
# The host key types sshd offers (/etc/ssh/sshd_config.d/loadbalancer.conf), as lb-firstboot makes them.
HOST_KEY_TYPES=(ed25519 ecdsa)
# A SHA-512 crypt hash as sha512_crypt makes them (the shadow file's and the WUI's).
HASH_RE='^\$6\$(rounds=[0-9]+\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$'
# A public key line without its comment: type and base64.
PUBLIC_KEY_RE='^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}$'

# ha_nodes: for an HA pair (an "ha" section with nodes in services.json) prints two lines,
# "self ROLE NAME ADDRESS" and "peer ROLE NAME ADDRESS"; nothing for a single appliance.
# A section that does not name this host and one other node is an error.
ha_nodes() {
  [[ -e $SERVICES_JSON ]] || return 0
  local name
  name=$(hostname) || return 1
  perl -MJSON::PP -e '
    my ($file, $self) = @ARGV;
    open(my $in, "<", $file) or die "cannot read $file: $!\n";
    my $model = eval { JSON::PP->new->decode(do { local $/; <$in> }) } or die "$file is not JSON: $@";
    my $ha = ref $model eq "HASH" ? $model->{ha} : undef;
    exit 0 unless ref $ha eq "HASH" && ref $ha->{nodes} eq "ARRAY" && @{ $ha->{nodes} };
    my @nodes = @{ $ha->{nodes} };
    for (@nodes) {
      die "$file: an ha node is not an object with name, address and role\n"
        unless ref $_ eq "HASH" && grep({ defined $_ && !ref $_ && /\A[A-Za-z0-9.-]+\z/ } @$_{qw(name address)}) == 2
          && ($_->{role} // "") =~ /\A(master|slave)\z/;
    }
    my @self = grep { $_->{name} eq $self } @nodes;
    my @peer = grep { $_->{name} ne $self } @nodes;
    die "$file: the ha section does not name this host ($self) and one peer\n" unless @self == 1 && @peer == 1;
    print "self $self[0]{role} $self[0]{name} $self[0]{address}\n", "peer $peer[0]{role} $peer[0]{name} $peer[0]{address}\n";
  ' "$SERVICES_JSON" "$name"
}

# sha512_crypt [ROUNDS]: reads a password on standard input (never the command line) and
# prints its SHA-512 crypt hash with a random salt; with ROUNDS, that many rounds. The
# password is the first line (its line break is not part of it).
sha512_crypt() {
  perl -e '
    my $rounds = shift;
    my $password = <STDIN> // "";
    chomp $password;
    open(my $random, "<:raw", "/dev/urandom") or die "cannot read /dev/urandom: $!\n";
    read($random, my $bytes, 16) == 16 or die "short read from /dev/urandom\n";
    my @alphabet = ("." , "/", 0 .. 9, "A" .. "Z", "a" .. "z");
    my $salt = join "", map { $alphabet[ord($_) % 64] } split //, $bytes;
    my $hash = crypt($password, "\$6\$" . ($rounds ? "rounds=$rounds\$" : "") . "$salt\$");
    defined $hash && $hash =~ /\A\$6\$/ or die "crypt() cannot make a SHA-512 hash\n";
    print "$hash\n";
  ' "${1:-}"
}

# host_public_keys DIR: the public host keys in DIR (ssh_host_*_key.pub), one
# "TYPE BASE64" line each, without comments.
host_public_keys() {
  local file type key _
  for file in "$1"/ssh_host_*_key.pub; do
    [[ -e $file ]] || continue
    read -r type key _ <"$file" || return 1
    echo "$type $key"
  done
}

# prepare_nft PEER_ADDRESS SUBNET...: renders $STAGE/lbsecure.nft (management ports only
# from the subnets, and from the HA peer when PEER_ADDRESS is not empty) and checks it
# with every other rule file of /etc/nftables.d, as /etc/nftables.conf would load them.
prepare_nft() {
  local peer=$1 subnets file
  shift
  subnets=$(printf '%s, ' "$@")
  subnets=${subnets%, }
  {
    echo "# Written by lbsecure: management access (ports $MANAGEMENT_PORTS) only from trusted subnets${peer:+ and the HA peer}."
    echo "table inet lbsecure {"
    echo "  chain input {"
    echo "    type filter hook input priority filter; policy accept;"
    echo "    iif \"lo\" accept"
    [[ -n $peer ]] && echo "    tcp dport { $MANAGEMENT_PORTS } ip saddr $peer accept"
    echo "    tcp dport { $MANAGEMENT_PORTS } ip saddr != { $subnets } drop"
    echo "    tcp dport { $MANAGEMENT_PORTS } meta nfproto ipv6 drop"
    echo "  }"
    echo "}"
  } >"$STAGE/lbsecure.nft" || return 1
  {
    echo 'flush ruleset'
    for file in /etc/nftables.d/*.nft; do
      [[ -e $file && $file != "$LBSECURE_NFT" ]] && echo "include \"$file\""
    done
    echo "include \"$STAGE/lbsecure.nft\""
  } >"$STAGE/nftables-check.conf" || return 1
  local output
  if ! output=$(nft -c -f "$STAGE/nftables-check.conf" 2>&1); then
    echo "lbsecure: the firewall rules for ${*} do not load: ${output//$'\n'/; }" >&2
    return 1
  fi
}

# prepare_host_keys: new host keys of every type in $STAGE/hostkeys, not yet in use.
prepare_host_keys() {
  local type host
  host=$(hostname) || return 1
  mkdir -m 0700 "$STAGE/hostkeys" || return 1
  for type in "${HOST_KEY_TYPES[@]}"; do
    ssh-keygen -q -t "$type" -N '' -C "root@$host" -f "$STAGE/hostkeys/ssh_host_${type}_key" </dev/null ||
      { echo "lbsecure: ssh-keygen could not make a new $type host key" >&2; return 1; }
  done
}

# replace_host_entries FILE NEW NAME ADDRESS KEY...: NEW, a copy of FILE (or an empty file)
# with the entries for NAME and ADDRESS (hashed or not) replaced by the keys given.
replace_host_entries() {
  local file=$1 new=$2 name=$3 address=$4 host key
  shift 4
  if [[ -e $file ]]; then cp "$file" "$new" || return 1; else : >"$new" || return 1; fi
  for host in "$name" "$address"; do
    ssh-keygen -R "$host" -f "$new" >/dev/null 2>&1 || { echo "lbsecure: cannot remove $host from a copy of $file" >&2; return 1; }
  done
  rm -f "$new.old"
  for key in "$@"; do echo "$name,$address $key"; done >>"$new"
}

# prepare_known_hosts NAME ADDRESS KEY...: $STAGE/known_hosts, root's known_hosts, and when
# the pair has one, $STAGE/pair_known_hosts, the HA pair's own (the file its SSH calls
# trust), each with the peer's entries replaced by its new keys.
prepare_known_hosts() {
  replace_host_entries "$KNOWN_HOSTS" "$STAGE/known_hosts" "$@" || return 1
  [[ ! -e $PAIR_KNOWN_HOSTS ]] || replace_host_entries "$PAIR_KNOWN_HOSTS" "$STAGE/pair_known_hosts" "$@"
}

# backup_state: the previous firewall file, password hashes, WUI password file, host keys
# and known_hosts, copied to $BACKUP for restore_all.
backup_state() {
  if [[ -e $LBSECURE_NFT ]]; then cp -p "$LBSECURE_NFT" "$BACKUP/lbsecure.nft" || return 1; fi
  getent shadow root setup | cut -d: -f1,2 >"$BACKUP/shadow" || return 1
  [[ $(wc -l <"$BACKUP/shadow") == 2 ]] || { echo "lbsecure: cannot read the password hashes of root and setup" >&2; return 1; }
  cp -p "$WUI_HTPASSWD" "$BACKUP/wui.htpasswd" || return 1
  mkdir -m 0700 "$BACKUP/hostkeys" || return 1
  cp -p /etc/ssh/ssh_host_* "$BACKUP/hostkeys/" || return 1
  if [[ -e $KNOWN_HOSTS ]]; then cp -p "$KNOWN_HOSTS" "$BACKUP/known_hosts" || return 1; fi
  if [[ -e $PAIR_KNOWN_HOSTS ]]; then cp -p "$PAIR_KNOWN_HOSTS" "$BACKUP/pair_known_hosts" || return 1; fi
}

# install_host_keys DIR: DIR's host keys replace /etc/ssh's; sshd checks them and restarts.
install_host_keys() {
  local file
  rm -f /etc/ssh/ssh_host_* || return 1
  for file in "$1"/ssh_host_*; do
    [[ -e $file ]] || return 1
    if [[ $file == *.pub ]]; then install -m 0644 "$file" /etc/ssh/ || return 1
    else install -m 0600 "$file" /etc/ssh/ || return 1; fi
  done
  sshd -t && systemctl restart ssh.service
}

# install_file SOURCE TARGET MODE [OWNER]: a copy written next to TARGET, then swapped in.
install_file() {
  cp "$1" "$2.new" && chmod "$3" "$2.new" && { [[ -z ${4:-} ]] || chown "$4" "$2.new"; } && mv -f "$2.new" "$2"
}

# The steps apply_all runs, in order. Each apply_STEP changes the running system from what
# prepare_* left in $STAGE; each restore_STEP puts back what backup_state saved.
apply_nft() {
  install_file "$STAGE/lbsecure.nft" "$LBSECURE_NFT" 0644 &&
    systemctl enable --quiet nftables.service && systemctl restart nftables.service
}
restore_nft() {
  if [[ -e $BACKUP/lbsecure.nft ]]; then install_file "$BACKUP/lbsecure.nft" "$LBSECURE_NFT" 0644; else rm -f "$LBSECURE_NFT"; fi &&
    systemctl restart nftables.service
}
# $STAGE/shadow: "user:hash" for root and setup; $STAGE/wui.htpasswd: the WUI's new file.
apply_passwords() {
  chpasswd -e <"$STAGE/shadow" && install_file "$STAGE/wui.htpasswd" "$WUI_HTPASSWD" 0640 root:www-data
}
restore_passwords() {
  chpasswd -e <"$BACKUP/shadow" && install_file "$BACKUP/wui.htpasswd" "$WUI_HTPASSWD" 0640 root:www-data
}
apply_host_keys() { install_host_keys "$STAGE/hostkeys"; }
restore_host_keys() { install_host_keys "$BACKUP/hostkeys"; }
apply_known_hosts() {
  mkdir -p -m 0700 /root/.ssh && install_file "$STAGE/known_hosts" "$KNOWN_HOSTS" 0600 &&
    { [[ ! -e $STAGE/pair_known_hosts ]] || install_file "$STAGE/pair_known_hosts" "$PAIR_KNOWN_HOSTS" 0644; }
}
restore_known_hosts() {
  if [[ -e $BACKUP/known_hosts ]]; then install_file "$BACKUP/known_hosts" "$KNOWN_HOSTS" 0600; else rm -f "$KNOWN_HOSTS"; fi &&
    { [[ ! -e $BACKUP/pair_known_hosts ]] || install_file "$BACKUP/pair_known_hosts" "$PAIR_KNOWN_HOSTS" 0644; }
}

# apply_all STEP...: applies the steps in order; when one fails, restores the ones already
# applied (and the failed one, which may be half done) in reverse order and returns 1.
apply_all() {
  local step applied=()
  for step in "$@"; do
    applied=("$step" "${applied[@]}")
    if ! "apply_$step"; then
      echo "lbsecure: applying the $step step failed; restoring the previous state" >&2
      restore_all "${applied[@]}"
      return 1
    fi
  done
}

# restore_all STEP...: restores each step (in the order given) from $BACKUP; when one
# cannot be restored, sets RESTORE_FAILED (the caller keeps $BACKUP then).
restore_all() {
  local step failed=0
  for step in "$@"; do
    "restore_$step" || { echo "lbsecure: restoring the previous $step state failed (backup: $BACKUP)" >&2; failed=1; RESTORE_FAILED=1; }
  done
  return "$failed"
}

# The request to the peer (peer.d/lbsecure) is a JSON object on standard input:
#   {"phase": "check"|"apply"|"rollback"|"commit", "allowFrom": [CIDR...],
#    "regenerateHostKeys": true|false, "passwords": {"root": HASH, "setup": HASH,
#    "loadbalancer": HASH}, "master": {"name": NAME, "address": ADDRESS},
#    "masterHostKeys": ["TYPE BASE64"...]}
# The answer, on standard output: {"ok": true, "hostKeys": ["TYPE BASE64"...]} or
# {"ok": false, "error": MESSAGE}. Both are turned into lines for the shell, and back,
# by the two functions below (values on standard input, never on a command line):
#   phase P | allow CIDR | regenerate 0|1 | hash USER HASH | master NAME ADDRESS | masterkey TYPE BASE64
#   ok 0|1 | error MESSAGE | key TYPE BASE64 (the answer)

# lines_to_json: the lines above (request or answer) on standard input, a JSON object out.
lines_to_json() {
  perl -MJSON::PP -e '
    my %object;
    while (my $line = <STDIN>) {
      chomp $line;
      my ($word, $rest) = split / /, $line, 2;
      $rest //= "";
      if ($word eq "phase") { $object{phase} = $rest }
      elsif ($word eq "allow") { push @{ $object{allowFrom} }, $rest }
      elsif ($word eq "regenerate") { $object{regenerateHostKeys} = $rest ? JSON::PP::true : JSON::PP::false }
      elsif ($word eq "hash") { my ($user, $hash) = split / /, $rest, 2; $object{passwords}{$user} = $hash }
      elsif ($word eq "master") { my ($name, $address) = split / /, $rest, 2; $object{master} = { name => $name, address => $address } }
      elsif ($word eq "masterkey") { push @{ $object{masterHostKeys} }, $rest }
      elsif ($word eq "key") { push @{ $object{hostKeys} }, $rest }
      elsif ($word eq "ok") { $object{ok} = $rest ? JSON::PP::true : JSON::PP::false }
      elsif ($word eq "error") { $object{error} = $rest }
      else { die "lines_to_json: unknown line $word\n" }
    }
    print JSON::PP->new->canonical->encode(\%object), "\n";
  '
}

# json_to_lines: a JSON object (at most 64 KiB) on standard input, the lines above out.
# Only the shape is checked here; the values are checked by the caller.
json_to_lines() {
  perl -MJSON::PP -e '
    my $text = do { local $/; <STDIN> } // "";
    die "the message is larger than 64 KiB\n" if length $text > 65536;
    my $object = eval { JSON::PP->new->decode($text) };
    die "the message is not a JSON object\n" unless ref $object eq "HASH";
    my $line = sub { my $text = join " ", @_; die "a value holds a line break or is not text\n" if $text =~ /[\r\n]/; print "$text\n" };
    my $list = sub { my $value = $object->{ $_[0] } // []; die "$_[0] is not a list of strings\n" if ref $value ne "ARRAY" || grep { ref } @$value; @$value };
    $line->(phase => $object->{phase}) if defined $object->{phase} && !ref $object->{phase};
    $line->(ok => $object->{ok} ? 1 : 0) if exists $object->{ok};
    $line->(error => $object->{error}) if defined $object->{error} && !ref $object->{error};
    $line->(regenerate => $object->{regenerateHostKeys} ? 1 : 0) if exists $object->{regenerateHostKeys};
    $line->(allow => $_) for $list->("allowFrom");
    $line->(masterkey => $_) for $list->("masterHostKeys");
    $line->(key => $_) for $list->("hostKeys");
    if (defined $object->{passwords}) {
      die "passwords is not an object of strings\n" if ref $object->{passwords} ne "HASH" || grep { ref } values %{ $object->{passwords} };
      $line->(hash => $_, $object->{passwords}{$_}) for sort keys %{ $object->{passwords} };
    }
    if (defined $object->{master}) {
      die "master is not an object with name and address\n" if ref $object->{master} ne "HASH" || grep { ref || !defined } @{ $object->{master} }{qw(name address)};
      $line->(master => @{ $object->{master} }{qw(name address)});
    }
  '
}
