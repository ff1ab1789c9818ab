package LB::Render::Nftables;
# /etc/nftables.d/50-lb-services.nft: opens the virtual services' ports in the sets of
# the appliance's input policy (overlays/hardening 10-lb-input-policy.nft).
use strict;
use warnings;

our $PATH = '/etc/nftables.d/50-lb-services.nft';

sub render {
    my ($model) = @_;
    my (%tcp, %udp);
    for my $vip (@{ $model->{vips} }) {
        my $ports = ($vip->{protocol} // 'tcp') eq 'udp' ? \%udp : \%tcp;
        $ports->{$_} = 1 for @{ $vip->{ports} };
    }
    $tcp{ $_->{port} } = 1 for @{ $model->{ssl} };
    my $text = "# Written by lbcli from /etc/loadbalancer/services.json: the virtual services' ports.\n";
    for ([services_tcp => \%tcp], [services_udp => \%udp]) {
        my ($set, $ports) = @$_;
        $text .= "add element inet appliance $set { " . join(', ', sort { $a <=> $b } keys %$ports) . " }\n" if %$ports;
    }
    return $text;
}

1;
