package LB::Pair;
# Making and undoing an HA pair. The master (ha-pair) asks the peer's WUI API to join
# with the peer's loadbalancer password; the peer (ha-join) checks the request, becomes
# the slave, starts heartbeat and answers with its keys; then the master trusts the
# peer and starts heartbeat. If the master's half fails, the peer is told to unpair.
use strict;
use warnings;
use JSON::PP;
use HTTP::Tiny;
use IO::Socket::SSL;
use MIME::Base64 qw(encode_base64);
use File::Path qw(make_path);
use LB::Error;
use LB::Run qw(run run_ok);
use LB::Model;
use LB::System;
use LB::Apply;
use LB::HA;
use LB::Peer;
use LB::Sync;
use LB::Render::Heartbeat;
use LB::IPv4;

our $API_PORT = 9443;
our $API_PATH = '/lbadmin/api/index.cgi';
our $BEFORE_JOIN = '/etc/loadbalancer/ha/before-join.json';
our $SLAVE_NAME = 'lbslave';
my $JSON = JSON::PP->new->canonical;

sub own_addresses { map { $_->{ip} } @{ $_[0]{addresses} } }

sub random_secret {
    open my $random, '<:raw', '/dev/urandom' or LB::Error->apply_failed("cannot read /dev/urandom: $!");
    read($random, my $bytes, 20) == 20 or LB::Error->apply_failed('cannot read /dev/urandom');
    return unpack 'H*', $bytes;
}

sub write_authkeys {
    my ($secret) = @_;
    LB::Peer::write_text($LB::Render::Heartbeat::AUTHKEYS, LB::Render::Heartbeat::authkeys($secret), 0600);
}

sub set_hostname {
    my ($name) = @_;
    my $old = LB::HA::hostname();
    return if $old eq $name;
    LB::Peer::write_text('/etc/hostname', "$name\n", 0644);
    # sudo (the WUI's) resolves the hostname: /etc/hosts follows.
    my $hosts = LB::Apply::read_file('/etc/hosts') // '';
    $hosts =~ s/^(127\.0\.1\.1\s.*)$/"127.0.1.1\t$name"/me or $hosts .= "127.0.1.1\t$name\n";
    LB::Peer::write_text('/etc/hosts', $hosts, 0644);
    run_ok(['hostname', $name]);
}

# peer_fingerprint: the peer API's certificate, seen on first contact. The appliances'
# WUI certificates are self-signed and made on each box, so there is nothing to verify
# them against: trust on first use, pinned for the request that carries the password
# and recorded in the pairing.
sub peer_fingerprint {
    my ($address) = @_;
    my $socket = IO::Socket::SSL->new(PeerHost => $address, PeerPort => $API_PORT, Timeout => 10,
        SSL_verify_mode => SSL_VERIFY_NONE)
        or LB::Error->apply_failed("cannot reach the peer's API at $address port $API_PORT: " . ($@ || $IO::Socket::SSL::SSL_ERROR || $!));
    my $fingerprint = $socket->get_fingerprint('sha256');
    close $socket;
    $fingerprint =~ s/^sha256\$//;
    return 'sha256$' . lc($fingerprint =~ s/://gr);
}

sub call_join {
    my ($address, $fingerprint, $password, $request) = @_;
    my $http = HTTP::Tiny->new(timeout => 120, verify_SSL => 0,
        SSL_options => { SSL_verify_mode => SSL_VERIFY_PEER, SSL_fingerprint => $fingerprint });
    my $response = $http->request('POST', "https://$address:$API_PORT$API_PATH?action=ha-join", {
        headers => { 'Content-Type' => 'application/json', Authorization => 'Basic ' . encode_base64("loadbalancer:$password", '') },
        content => $JSON->encode($request) });
    my $answer = eval { decode_json($response->{content}) };
    my $said = ref $answer eq 'HASH' && $answer->{error} ? $answer->{error} : ($response->{content} // '') =~ s/\s+/ /gr;
    LB::Error->bad_input("the peer refused the password for user loadbalancer ($address)") if $response->{status} == 401;
    LB::Error->apply_failed("cannot reach the peer's API at $address port $API_PORT: $said") if $response->{status} == 599;
    LB::Error->bad_input("the peer $address refused to join: $said") if $response->{status} == 400;
    LB::Error->apply_failed("the peer $address failed to join (HTTP $response->{status}): $said") unless $response->{status} == 200 && ref $answer eq 'HASH';
    return $answer;
}

# pair(OPTIONS, PASSWORD): this node becomes the master of a pair with --peer-ip.
sub pair {
    my ($options, $password) = @_;
    my $peer_ip = $options->{'peer-ip'};
    LB::Model::check_ipv4('peer-ip', $peer_ip);
    my $media = $options->{heartbeat} // 'ucast';
    my $serial_port = $options->{'serial-port'} // ($media eq 'ucast' ? undef : LB::HA::model_heartbeat_port());
    LB::HA::check_media($media, $serial_port, '--heartbeat');
    LB::Error->bad_input('no peer password: give --peer-password or the password on standard input') unless length($password // '');
    my $lock = LB::Apply::lock();
    my $old = LB::Model::load($LB::Model::PATH);
    if (LB::HA::paired($old)) {
        my $peer = LB::HA::peer($old);
        LB::Error->bad_input('this appliance is already paired' . ($peer ? " with $peer->{name} ($peer->{address})" : '') . '; unpair it first (ha-unpair)');
    }
    my $facts = LB::System::facts($old);
    LB::Error->bad_input("--peer-ip $peer_ip is an address of this appliance") if grep { $_ eq $peer_ip } own_addresses($facts),
        LB::Model::managed_addresses($old);
    my ($local) = grep { $_->{prefix} < 32 && LB::IPv4::in_subnet($peer_ip, $_->{ip}, $_->{prefix}) } @{ $facts->{addresses} };
    LB::Error->bad_input("--peer-ip $peer_ip is in no interface's subnet; the peer must be on a directly connected network") unless $local;
    my $name = LB::HA::hostname();
    LB::Error->bad_input("this appliance is named $SLAVE_NAME, the name a joining slave takes; rename it (e.g. hostnamectl set-hostname lbmaster) first")
        if $name eq $SLAVE_NAME;
    my $timers = LB::HA::timers();
    my $fingerprint = peer_fingerprint($peer_ip);
    my $heartbeat = { media => $media, interface => $local->{interface}, defined $serial_port ? (serialPort => $serial_port) : () };
    my $new = LB::Model::copy($old);
    $new->{ha} = { nodes => [{ name => $name, address => $local->{ip}, role => 'master' },
        { name => $SLAVE_NAME, address => $peer_ip, role => 'slave', apiFingerprint => $fingerprint }], heartbeat => $heartbeat };
    my $secret = random_secret();
    my $answer = call_join($peer_ip, $fingerprint, $password, {
        master => { name => $name, address => $local->{ip}, sshKey => LB::Peer::own_key(), hostKey => LB::Peer::own_host_key() },
        authkeys => { method => 'sha1', secret => $secret },
        services => $new,
    });
    my $done = eval {
        my $key = LB::Peer::public_key($answer->{sshKey}, "the peer's SSH key");
        my $host_key = LB::Peer::public_key($answer->{hostKey}, "the peer's SSH host key");
        LB::Peer::trust($SLAVE_NAME, $peer_ip, $key, $host_key);
        my ($status, $output) = LB::Peer::run_verb($peer_ip, 'ha-status');
        LB::Error->apply_failed("SSH to the joined peer failed: " . ($output =~ s/\s+/ /gr)) unless $status == 0;
        write_authkeys($secret);
        LB::Apply::apply($old, $new, $facts, hold => 1);
        1;
    };
    if ($done) {
        # Both heartbeats start now: the master, preferred in haresources, takes the addresses.
        my ($status, $output) = LB::Peer::run_verb($peer_ip, 'restart-heartbeat');
        return "paired with $SLAVE_NAME ($peer_ip) as master over $media; heartbeat started on both" if $status == 0;
        LB::Error->apply_failed("paired with $SLAVE_NAME ($peer_ip), but starting heartbeat there failed: " . ($output =~ s/\s+/ /gr)
            . '; run lbcli --action restart-heartbeat');
    }
    my $error = $@;
    my ($status, $output) = LB::Peer::run_verb($peer_ip, 'unpair');
    LB::Peer::distrust();
    unlink $LB::Render::Heartbeat::AUTHKEYS;
    my $message = ref $error ? $error->message : $error;
    chomp $message;
    LB::Error->apply_failed("pairing failed here: $message; " . ($status == 0 ? 'the peer was unpaired again'
        : "the peer could not be unpaired ($output); run lbcli --action ha-unpair on it"));
}

# join(REQUEST, FACTS): this node becomes the slave of REQUEST's master; the answer.
sub join_pair {
    my ($request) = @_;
    my $lock = LB::Apply::lock();
    my $old = LB::Model::load($LB::Model::PATH);
    LB::Error->bad_input('this appliance is already paired with ' . (LB::HA::peer($old) // {})->{name} . '; unpair it first')
        if LB::HA::paired($old);
    for my $field (qw(master authkeys services)) {
        LB::Error->bad_input("the join request has no $field") unless ref $request->{$field} eq 'HASH';
    }
    my ($master, $authkeys) = @$request{qw(master authkeys)};
    LB::Error->bad_input('the join request: authkeys must be sha1 with a 40-digit hex secret')
        unless ($authkeys->{method} // '') eq 'sha1' && ($authkeys->{secret} // '') =~ /^[0-9a-f]{40}$/;
    my $key = LB::Peer::public_key($master->{sshKey}, "the master's SSH key");
    my $host_key = LB::Peer::public_key($master->{hostKey}, "the master's SSH host key");
    my $facts = LB::System::facts($old);
    my $before = { hostname => LB::HA::hostname(), services => $old };
    # The request names this node lbslave: check it as it will be.
    my $name_before = $before->{hostname};
    my $section = $request->{services}{ha};
    my ($me) = grep { $_->{role} eq 'slave' } @{ ref $section eq 'HASH' && ref $section->{nodes} eq 'ARRAY' ? $section->{nodes} : [] };
    LB::Error->bad_input('the join request names no slave') unless ref $me eq 'HASH' && ($me->{name} // '') =~ /^[a-z][a-z0-9-]{0,62}$/;
    LB::Error->bad_input("the master's name $master->{name} is this appliance's slave name too")
        if ($master->{name} // '') eq $me->{name};
    my $new;
    {
        no warnings 'redefine';
        local *LB::HA::hostname = sub { $me->{name} };
        LB::HA::check_section($section, [own_addresses($facts)], 'the join request');
        $new = LB::Sync::check_services($request->{services}, $facts, 'the join request');
        my $master_node = LB::HA::node_of_role($new, 'master');
        LB::Error->bad_input("the join request's master is $master_node->{name} ($master_node->{address}), not $master->{name} ($master->{address})")
            unless $master_node->{name} eq ($master->{name} // '') && $master_node->{address} eq ($master->{address} // '');
        LB::HA::timers();
    }
    my $done = eval {
        make_path('/etc/loadbalancer/ha');
        LB::Peer::write_text($BEFORE_JOIN, $JSON->encode($before), 0600);
        set_hostname($me->{name});
        LB::Peer::trust($master->{name}, $master->{address}, $key, $host_key);
        write_authkeys($authkeys->{secret});
        LB::Apply::apply($old, $new, $facts, certs => missing_certificates($new), defer_heartbeat => 1);
        1;
    };
    unless ($done) {
        my $error = $@;
        eval { LB::Peer::distrust(); unlink $LB::Render::Heartbeat::AUTHKEYS, $BEFORE_JOIN; set_hostname($name_before) };
        die $error;
    }
    return { message => "joined $master->{name} ($master->{address}) as $me->{name}, the slave; the master starts heartbeat here",
        name => $me->{name}, sshKey => LB::Peer::own_key(), hostKey => LB::Peer::own_host_key() };
}

# missing_certificates: SSL terminations of a received model whose certificate this
# node lacks get a self-signed one (certificates are not synced).
sub missing_certificates {
    my ($model) = @_;
    require LB::Cert;
    return { map { ($_->{cert} => LB::Cert::self_signed($_->{ip})) } grep { !-e $_->{cert} } @{ $model->{ssl} } };
}

# unpair: this node leaves its pair. A slave that joined goes back to its hostname and
# services from before the join; a master keeps its services and serves them alone.
sub unpair {
    my $lock = LB::Apply::lock();
    my $old = LB::Model::load($LB::Model::PATH);
    LB::Error->bad_input('this appliance is not paired') unless LB::HA::paired($old);
    my $before = eval { decode_json(LB::Apply::read_file($BEFORE_JOIN) // die) };
    my $new = ref $before eq 'HASH' && ref $before->{services} eq 'HASH' ? $before->{services} : LB::Model::copy($old);
    delete $new->{ha};
    my $facts = LB::System::facts($old);
    LB::Apply::apply($old, $new, $facts, certs => missing_certificates($new));
    LB::Peer::distrust();
    unlink $LB::Render::Heartbeat::AUTHKEYS, $BEFORE_JOIN, $LB::Sync::LAST_PUSH;
    set_hostname($before->{hostname}) if ref $before eq 'HASH' && defined $before->{hostname} && $before->{hostname} =~ /^[a-z][a-z0-9-]{0,62}$/;
    return 'left the pair; heartbeat stopped; this appliance serves its services alone';
}

1;
