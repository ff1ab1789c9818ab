package LB::Peer;
# The SSH trust between the two nodes of a pair: root's own key, the peer's key in
# root's authorized_keys (restricted to lb-peer, the forced command that runs only the
# verbs in /usr/lib/loadbalancer/peer.d), the peer's host key in a known_hosts file of
# the pair's own, and running a verb on the peer.
use strict;
use warnings;
use File::Path qw(make_path);
use JSON::PP ();
use LB::Error;
use LB::Run qw(run run_ok);
use LB::HA;
use LB::Apply;

our $KEY = '/root/.ssh/id_ed25519';
our $AUTHORIZED_KEYS = '/root/.ssh/authorized_keys';
our $HOST_KEY = '/etc/ssh/ssh_host_ed25519_key.pub';
our $KNOWN_HOSTS = '/etc/loadbalancer/ha/known_hosts';
our $FORCED_COMMAND = '/usr/local/sbin/lb-peer';
my $MARK = 'lb-peer';
my $PUBLIC_KEY = qr/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256) ([A-Za-z0-9+\/]{40,1000}={0,2})$/;

sub write_text {
    my ($path, $text, $mode) = @_;
    open my $file, '>', "$path.new" or LB::Error->apply_failed("cannot write $path.new: $!");
    print {$file} $text;
    close $file or LB::Error->apply_failed("cannot write $path.new: $!");
    chmod $mode, "$path.new";
    rename "$path.new", $path or LB::Error->apply_failed("cannot rename $path.new: $!");
}

# public_key(TEXT, WHAT): "TYPE BASE64" of an OpenSSH public key line, its comment dropped.
sub public_key {
    my ($text, $what) = @_;
    my ($type, $base64) = split ' ', $text // '';
    my $key = join ' ', grep { defined } $type, $base64;
    LB::Error->bad_input("$what is not an OpenSSH public key") unless $key =~ $PUBLIC_KEY;
    return $key;
}

# own_key: root's public key, made on first use.
sub own_key {
    unless (-e "$KEY.pub") {
        make_path('/root/.ssh');
        chmod 0700, '/root/.ssh';
        run_ok(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'root@' . LB::HA::hostname(), '-f', $KEY]);
    }
    return public_key(LB::Apply::read_file("$KEY.pub"), "$KEY.pub");
}

# own_host_key: lb-firstboot makes the host keys at the first boot; a pairing started
# while it still runs waits for it.
sub own_host_key {
    run(['systemctl', 'start', 'lb-firstboot.service']) unless -e $HOST_KEY;
    return public_key(LB::Apply::read_file($HOST_KEY) // LB::Error->apply_failed("no $HOST_KEY (lb-firstboot makes it)"), $HOST_KEY);
}

# trust(NAME, ADDRESS, KEY, HOST_KEY): the peer may run lb-peer verbs as root here, and
# its SSH server is known by its host key.
sub trust {
    my ($name, $address, $key, $host_key) = @_;
    make_path('/root/.ssh', '/etc/loadbalancer/ha');
    chmod 0700, '/root/.ssh';
    my $keys = join '', grep { !/ $MARK:/ } split /^/, LB::Apply::read_file($AUTHORIZED_KEYS) // '';
    write_text($AUTHORIZED_KEYS, $keys . qq{restrict,command="$FORCED_COMMAND" $key $MARK:$name\n}, 0600);
    write_text($KNOWN_HOSTS, "$address $host_key\n", 0644);
}

sub distrust {
    my $keys = LB::Apply::read_file($AUTHORIZED_KEYS);
    write_text($AUTHORIZED_KEYS, join('', grep { !/ $MARK:/ } split /^/, $keys), 0600) if defined $keys;
    unlink $KNOWN_HOSTS;
}

# run_verb(ADDRESS, VERB, stdin => TEXT): (exit status, output) of `lb-peer VERB` on the peer.
# LogLevel=ERROR: no login banner in the output.
sub run_verb {
    my ($address, $verb, %options) = @_;
    return run(['ssh', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', "UserKnownHostsFile=$KNOWN_HOSTS",
        '-o', 'ConnectTimeout=5', '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=2', '-i', $KEY, '-T',
        "root\@$address", $verb], %options);
}

# json_answer(OUTPUT): the JSON object on the last line of a verb's output, if any.
sub json_answer {
    my ($output) = @_;
    my ($line) = reverse grep { /^\{/ } split /\n/, $output // '';
    my $answer = defined $line ? eval { JSON::PP::decode_json($line) } : undef;
    return ref $answer eq 'HASH' ? $answer : undef;
}

1;
