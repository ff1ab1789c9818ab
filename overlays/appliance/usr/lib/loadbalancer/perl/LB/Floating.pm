package LB::Floating;
# The floating addresses of a paired node (every VIP, SSL termination and floating IP,
# as LB::Render::Networkd::addresses places them) while it is the active node. What it
# placed is recorded in /run/loadbalancer/floating-ips.json, so a later start removes
# the addresses the model no longer has, stop removes them all, and the record's
# presence says this node holds the resource.
use strict;
use warnings;
use JSON::PP;
use File::Path qw(make_path);
use POSIX ();
use LB::Run qw(run run_ok);
use LB::Render::Networkd;

our $RECORD = '/run/loadbalancer/floating-ips.json';
# What a takeover places first, before the full start (/etc/ha.d/resource.d/lb-floating-ips).
our $REMEMBERED = '/var/lib/loadbalancer/floating-ips.takeover';
my @SEND_ARP = ('/usr/lib/heartbeat/send_arp', '/usr/libexec/heartbeat/send_arp');

# holding: the record exists and agrees with the interfaces (a record whose addresses
# are all gone, e.g. after a stop cut short, does not make this node the active one).
sub holding {
    return 0 unless -e $RECORD;
    my $placed = recorded();
    return 1 unless @$placed;
    my $present = present();
    return scalar grep { $present->{"$_->{address} $_->{interface}"} } @$placed;
}

sub recorded {
    open my $file, '<', $RECORD or return [];
    return eval { decode_json(do { local $/; <$file> }) } // [];
}

sub record {
    my ($placed) = @_;
    make_path('/run/loadbalancer');
    open my $file, '>', "$RECORD.new" or die "cannot write $RECORD.new: $!\n";
    print {$file} encode_json($placed);
    close $file or die "cannot write $RECORD.new: $!\n";
    rename "$RECORD.new", $RECORD or die "cannot rename $RECORD.new: $!\n";
}

sub present {
    my %present;
    for (split /\n/, run_ok(['ip', '-4', '-o', 'addr', 'show'])) {
        $present{"$2 $1"} = 1 if m{^\d+:\s+(\S+)\s+inet\s+(\S+)};
    }
    return \%present;
}

# announce: gratuitous ARPs, so switches and neighbours move the address to this node.
# They are sent in the background: the first goes out at once, and a takeover does not
# wait for the repeats (arping waits a second between two).
sub announce {
    my ($address, $interface) = @_;
    my $ip = $address =~ s{/.*}{}r;
    my ($arping) = grep { -x } '/usr/sbin/arping', '/usr/bin/arping';
    if ($arping) {
        in_background([$arping, '-U', '-c', '2', '-I', $interface, $ip]);
        return;
    }
    my ($send_arp) = grep { -x } @SEND_ARP or return;
    open my $mac_file, '<', "/sys/class/net/$interface/address" or return;
    my $mac = <$mac_file> // return;
    chomp $mac;
    # send_arp [-i repeat-ms] [-r count] DEVICE SRC_IP SRC_MAC TARGET_IP TARGET_MAC
    in_background([$send_arp, '-i', '200', '-r', '3', $interface, $ip, $mac =~ s/://gr, $ip, 'ffffffffffff']);
}

# in_background(COMMAND): runs COMMAND detached (its parent gone, so nothing waits for
# it or is left a zombie), with no standard streams: a caller reading this process's
# output (heartbeat, lbcli's run) does not wait for it either.
sub in_background {
    my ($command) = @_;
    my $child = fork // return;
    if ($child == 0) {
        POSIX::setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        defined(my $grandchild = fork) or POSIX::_exit(1);
        if ($grandchild == 0) {
            exec { $command->[0] } @$command or POSIX::_exit(127);
        }
        POSIX::_exit(0);
    }
    waitpid $child, 0;
}

# start(MODEL, FACTS): the interfaces carry MODEL's addresses and none this resource
# placed before and MODEL no longer has. Idempotent.
sub start {
    my ($model, $facts) = @_;
    my $wanted = LB::Render::Networkd::addresses($model, $facts);
    my $present = present();
    my (@placed, %keep);
    for my $interface (sort keys %$wanted) {
        run_ok(['ip', 'link', 'set', $interface, 'up']);
        for my $address (@{ $wanted->{$interface} }) {
            push @placed, { address => $address, interface => $interface };
            $keep{"$address $interface"} = 1;
            next if $present->{"$address $interface"};
            run_ok(['ip', 'addr', 'replace', $address, 'dev', $interface]);
            announce($address, $interface);
        }
    }
    for my $old (grep { !$keep{"$_->{address} $_->{interface}"} } @{ recorded() }) {
        run(['ip', 'addr', 'del', $old->{address}, 'dev', $old->{interface}]) if $present->{"$old->{address} $old->{interface}"};
    }
    record(\@placed);
}

# remember(MODEL, FACTS): the addresses a takeover of MODEL places, one "ADDRESS
# INTERFACE" line each, for the resource script's first step.
sub remember {
    my ($model, $facts) = @_;
    my $wanted = LB::Render::Networkd::addresses($model, $facts);
    my $text = join '', map { my $interface = $_; map { "$_ $interface\n" } @{ $wanted->{$interface} } } sort keys %$wanted;
    make_path('/var/lib/loadbalancer');
    open my $file, '>', "$REMEMBERED.new" or die "cannot write $REMEMBERED.new: $!\n";
    print {$file} $text;
    close $file or die "cannot write $REMEMBERED.new: $!\n";
    rename "$REMEMBERED.new", $REMEMBERED or die "cannot rename $REMEMBERED.new: $!\n";
}

# stop: none of the addresses this resource placed stays here. Only the recorded ones:
# an unpaired node's addresses (lbcli removed the record) are not heartbeat's to remove.
sub stop {
    my $present = present();
    for my $address (@{ recorded() }) {
        next unless delete $present->{"$address->{address} $address->{interface}"};
        run(['ip', 'addr', 'del', $address->{address}, 'dev', $address->{interface}]);
    }
    unlink $RECORD;
}

1;
