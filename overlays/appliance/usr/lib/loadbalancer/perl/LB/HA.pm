package LB::HA;
# The HA pair in the model: services.json's "ha" section, the same on both nodes
# ({nodes: [{name, address, role master|slave, apiFingerprint}], heartbeat: {media,
# serialPort, interface}}). Each node finds itself in it by its hostname. The
# heartbeat secret is not in the model: it lives in /etc/ha.d/authkeys (0600) only.
use strict;
use warnings;
use JSON::PP;
use Digest::SHA qw(sha256_hex);
use POSIX ();
use LB::Error;
use LB::Model;

our $TIMERS = '/etc/loadbalancer/heartbeat.json';
our $STATE_DIRECTORY = '/etc/loadbalancer/ha';
our $MODEL_FILE = '/etc/loadbalancer/model';
my $HOSTNAME = qr/^[a-z][a-z0-9-]{0,62}$/;

# hostname: read each time (Sys::Hostname caches it), a join changes it.
sub hostname { ((POSIX::uname())[1] =~ s/\..*//r) }

sub paired { ref $_[0]{ha} eq 'HASH' }

sub node_named {
    my ($model, $name) = @_;
    return undef unless paired($model);
    my ($node) = grep { $_->{name} eq $name } @{ $model->{ha}{nodes} };
    return $node;
}

sub me { node_named($_[0], hostname()) }

sub peer {
    my ($model) = @_;
    return undef unless paired($model);
    my ($peer) = grep { $_->{name} ne hostname() } @{ $model->{ha}{nodes} };
    return $peer;
}

sub role { my $me = me($_[0]); $me ? $me->{role} : 'none' }

sub node_of_role {
    my ($model, $role) = @_;
    my ($node) = grep { $_->{role} eq $role } @{ $model->{ha}{nodes} };
    return $node;
}

# config_hash: what both nodes compare to tell whether they are in sync.
sub config_hash { sha256_hex(LB::Model::encode($_[0])) }

# timers: heartbeat.json (from the recipe), each value checked.
sub timers {
    open my $file, '<', $TIMERS or LB::Error->apply_failed("cannot read $TIMERS: $!; the image's configure stage writes it");
    my $timers = eval { decode_json(do { local $/; <$file> }) };
    LB::Error->apply_failed("$TIMERS is not a JSON object") unless ref $timers eq 'HASH';
    for my $name (qw(keepaliveMs warntimeMs deadtimeMs initdeadMs udpPort baud)) {
        LB::Error->apply_failed("$TIMERS: $name must be a positive whole number")
            unless defined $timers->{$name} && $timers->{$name} =~ /^[1-9]\d{0,6}$/;
    }
    LB::Error->apply_failed("$TIMERS: keepaliveMs < warntimeMs < deadtimeMs <= initdeadMs is required")
        unless $timers->{keepaliveMs} < $timers->{warntimeMs} && $timers->{warntimeMs} < $timers->{deadtimeMs}
            && $timers->{deadtimeMs} <= $timers->{initdeadMs};
    LB::Error->apply_failed("$TIMERS: udpPort must be at most 65535") if $timers->{udpPort} > 65535;
    return $timers;
}

# model_heartbeat_port: the serial port a physical model's heartbeat cable uses
# (HEARTBEAT_SERIAL in its model file); undef on a virtual appliance, which has none.
sub model_heartbeat_port {
    open my $file, '<', $MODEL_FILE or return undef;
    while (my $line = <$file>) { return $1 if $line =~ m{^HEARTBEAT_SERIAL=(/dev/tty[A-Za-z0-9]{1,16})$} }
    return undef;
}

sub check_media {
    my ($media, $serial_port, $what) = @_;
    LB::Error->bad_input("$what: heartbeat '$media' must be ucast, serial or both") unless $media =~ /^(ucast|serial|both)$/;
    if ($media eq 'ucast') {
        LB::Error->bad_input("$what: a serial port is for --heartbeat serial or both, not ucast") if defined $serial_port;
    } else {
        LB::Error->bad_input("$what: --heartbeat $media needs --serial-port, e.g. /dev/ttyS1") unless defined $serial_port;
        LB::Error->bad_input("$what: serial port '$serial_port' is not a device like /dev/ttyS1")
            unless $serial_port =~ m{^/dev/tty[A-Za-z0-9]{1,16}$};
        LB::Error->bad_input("$what: serial port $serial_port is no character device on " . hostname()) unless -c $serial_port;
    }
}

# check_section: SECTION is a well-formed ha section naming this node (by hostname,
# at one of ITS_ADDRESSES) and one other node at another address; WHAT names the source.
sub check_section {
    my ($section, $own_addresses, $what) = @_;
    LB::Error->bad_input("$what: the ha section must be an object") unless ref $section eq 'HASH';
    my %allowed = map { $_ => 1 } qw(nodes heartbeat);
    LB::Error->bad_input("$what: unknown ha field '$_'") for grep { !$allowed{$_} } sort keys %$section;
    my $nodes = $section->{nodes};
    LB::Error->bad_input("$what: ha.nodes must list two nodes") unless ref $nodes eq 'ARRAY' && @$nodes == 2;
    my %roles;
    for my $node (@$nodes) {
        LB::Error->bad_input("$what: every ha node needs name, address and role") unless ref $node eq 'HASH';
        my %fields = map { $_ => 1 } qw(name address role apiFingerprint);
        LB::Error->bad_input("$what: unknown ha node field '$_'") for grep { !$fields{$_} } sort keys %$node;
        LB::Error->bad_input("$what: ha node name '" . ($node->{name} // '') . "' is not a hostname") unless ($node->{name} // '') =~ $HOSTNAME;
        LB::Model::check_ipv4('peer-ip', $node->{address} // '');
        LB::Error->bad_input("$what: ha node role must be master or slave") unless ($node->{role} // '') =~ /^(master|slave)$/;
        LB::Error->bad_input("$what: apiFingerprint must be sha256\$HEX")
            if defined $node->{apiFingerprint} && $node->{apiFingerprint} !~ /^sha256\$[0-9a-f]{64}$/;
        $roles{ $node->{role} }++;
    }
    LB::Error->bad_input("$what: one master and one slave") unless ($roles{master} // 0) == 1 && ($roles{slave} // 0) == 1;
    LB::Error->bad_input("$what: the two nodes need distinct names and addresses")
        if $nodes->[0]{name} eq $nodes->[1]{name} || $nodes->[0]{address} eq $nodes->[1]{address};
    my $heartbeat = $section->{heartbeat};
    LB::Error->bad_input("$what: ha.heartbeat must be an object with media and interface") unless ref $heartbeat eq 'HASH';
    my %fields = map { $_ => 1 } qw(media serialPort interface);
    LB::Error->bad_input("$what: unknown ha.heartbeat field '$_'") for grep { !$fields{$_} } sort keys %$heartbeat;
    check_media($heartbeat->{media} // '', $heartbeat->{serialPort}, $what);
    LB::Error->bad_input("$what: ha.heartbeat.interface must be an interface name") unless ($heartbeat->{interface} // '') =~ /^[a-z][a-z0-9.]{0,14}$/;
    my ($me) = grep { $_->{name} eq hostname() } @$nodes;
    LB::Error->bad_input("$what: no ha node is named " . hostname() . ', this appliance') unless $me;
    LB::Error->bad_input("$what: this appliance's node address $me->{address} is none of its own addresses")
        unless grep { $_ eq $me->{address} } @$own_addresses;
    my ($other) = grep { $_ ne $me } @$nodes;
    LB::Error->bad_input("$what: the peer's address $other->{address} is one of this appliance's own")
        if grep { $_ eq $other->{address} } @$own_addresses;
}

1;
