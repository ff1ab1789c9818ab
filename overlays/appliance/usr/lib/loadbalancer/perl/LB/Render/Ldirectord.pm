package LB::Render::Ldirectord;
# /etc/ha.d/ldirectord.cf: the layer 4 VIPs, one virtual server per port. Halted RIPs
# are left out, drained ones have weight 0; quiescent=no takes a failed RIP out of IPVS,
# so status tells a down RIP (absent) from a drained one (weight 0).
use strict;
use warnings;

our $PATH = '/etc/ha.d/ldirectord.cf';
my %FORWARDING = (dr => 'gate', nat => 'masq', tun => 'ipip');

sub render {
    my ($model) = @_;
    my $text = <<'CFG';
# Written by lbcli from /etc/loadbalancer/services.json: change services with lbcli.
checktimeout=2
checkinterval=2
autoreload=no
logfile="daemon"
quiescent=no
CFG
    for my $vip (grep { $_->{layer} == 4 } @{ $model->{vips} }) {
        for my $port (@{ $vip->{ports} }) {
            $text .= "\n# $vip->{label}\nvirtual=$vip->{ip}:$port\n";
            for my $rip (grep { $_->{state} ne 'halted' } @{ $vip->{rips} }) {
                my $weight = $rip->{state} eq 'drained' ? 0 : $rip->{weight};
                my $thresholds = $rip->{maxconns} ? " l:$rip->{minconns} u:$rip->{maxconns}" : '';
                $text .= "\treal=$rip->{ip}:" . ($rip->{port} // $port) . " $FORWARDING{$vip->{forwarding}} $weight$thresholds\n";
            }
            # A UDP connect succeeds without an answer, so UDP RIPs are checked by ping.
            $text .= "\tprotocol=$vip->{protocol}\n\tscheduler=wlc\n\tchecktype="
                . ($vip->{protocol} eq 'tcp' ? 'connect' : 'ping') . "\n";
        }
    }
    return $text;
}

1;
