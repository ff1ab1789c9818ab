package LB::Table;
# The text tables of "lbcli list" and "lbcli status": one row per VIP, its RIPs
# indented below it, then the SSL terminations and floating IPs.
use strict;
use warnings;

sub format_rows {
    my (@rows) = @_;
    my @widths;
    for my $row (@rows) {
        for my $n (0 .. $#$row) {
            my $length = length($row->[$n] // '');
            $widths[$n] = $length if !defined $widths[$n] || $length > $widths[$n];
        }
    }
    return join '', map {
        my $row = $_;
        (join('  ', map { sprintf '%-*s', $widths[$_], $row->[$_] // '' } 0 .. $#$row) =~ s/\s+$//r) . "\n"
    } @rows;
}

sub method { my ($vip) = @_; $vip->{layer} == 7 ? "layer 7 $vip->{mode}" : "layer 4 $vip->{protocol} \U$vip->{forwarding}" }

# text(VIEW, WITH_STATUS): VIEW is lbcli's list (the model) or status structure.
sub text {
    my ($view, $with_status) = @_;
    my @rows = (['LABEL', 'IP', 'PORTS', 'WEIGHT', 'METHOD', $with_status ? ('CONNS', 'STATE') : 'STATE']);
    for my $vip (@{ $view->{vips} }) {
        my $connections = 0;
        $connections += $_->{connections} // 0 for @{ $vip->{rips} };
        push @rows, [$vip->{label}, $vip->{ip}, join(',', @{ $vip->{ports} }), '', method($vip), $with_status ? ($connections, $vip->{state}) : ''];
        for my $rip (@{ $vip->{rips} }) {
            push @rows, ["  $rip->{label}", $rip->{ip}, $rip->{port} // '', $rip->{weight},
                defined $rip->{maxconns} && $rip->{maxconns} ? "conns $rip->{minconns}-$rip->{maxconns}" : '',
                $with_status ? ($rip->{connections}, $rip->{health}) : $rip->{state}];
        }
    }
    for my $ssl (@{ $view->{ssl} }) {
        push @rows, [$ssl->{label}, $ssl->{ip}, $ssl->{port}, '', "SSL $ssl->{engine} to $ssl->{backendVip}", $with_status ? ('', $ssl->{health}) : ''];
    }
    for my $floating (@{ $view->{floatingIps} }) {
        push @rows, ['floating IP', $floating->{ip}, '', '', "on $floating->{interface}", $with_status ? ('', '') : ''];
    }
    return @rows == 1 ? "No virtual services configured.\n" : format_rows(@rows);
}

1;
