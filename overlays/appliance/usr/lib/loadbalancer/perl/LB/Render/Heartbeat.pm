package LB::Render::Heartbeat;
# Heartbeat's files for a paired model (haresources mode): ha.cf with the nodes, the
# media to the peer and the recipe's timers; haresources with the master preferred and
# one resource, lb-floating-ips, that holds every floating IP and VIP address (and
# ldirectord). authkeys holds the pair's secret, which is not in the model: LB::Pair
# writes it.
use strict;
use warnings;
use LB::HA;

our $HA_CF = '/etc/ha.d/ha.cf';
our $HARESOURCES = '/etc/ha.d/haresources';
our $AUTHKEYS = '/etc/ha.d/authkeys';
our $RESOURCE = 'lb-floating-ips';

my $HEADER = "# Written by lbcli from /etc/loadbalancer/services.json (ha) and /etc/loadbalancer/heartbeat.json.\n";

sub ha_cf {
    my ($model, $timers) = @_;
    my $heartbeat = $model->{ha}{heartbeat};
    my $peer = LB::HA::peer($model);
    my $text = $HEADER
        # Heartbeat logs through syslog(3), which journald receives.
        . "logfacility daemon\n"
        . "keepalive $timers->{keepaliveMs}ms\nwarntime $timers->{warntimeMs}ms\n"
        . "deadtime $timers->{deadtimeMs}ms\ninitdead $timers->{initdeadMs}ms\n"
        . "udpport $timers->{udpPort}\n";
    $text .= "ucast $heartbeat->{interface} $peer->{address}\n" if $heartbeat->{media} =~ /^(ucast|both)$/;
    $text .= "baud $timers->{baud}\nserial $heartbeat->{serialPort}\n" if $heartbeat->{media} =~ /^(serial|both)$/;
    # off: a master that comes back stays passive, so a failover costs one outage, not
    # two (the guide's "slave active, link up" state); restart-heartbeat moves it back.
    $text .= "auto_failback off\n";
    $text .= "node $_->{name}\n" for sort { $a->{role} cmp $b->{role} } @{ $model->{ha}{nodes} };
    return $text;
}

sub haresources {
    my ($model) = @_;
    return $HEADER . LB::HA::node_of_role($model, 'master')->{name} . " $RESOURCE\n";
}

sub authkeys { "auth 1\n1 sha1 $_[0]\n" }

1;
