package LB::Render::Networkd;
# systemd-networkd files that put the model's addresses on their interfaces at every
# boot: VIPs and SSL terminations as /32 on the interface whose subnet holds them,
# floating IPs with their prefix. An interface with a .network file of its own (eth0's,
# from lb-apply-network) gets a drop-in; any other gets a .network file from lbcli.
use strict;
use warnings;
use LB::Model;

our $DIRECTORY = '/etc/systemd/network';
my $OWN_FILE = '60-lbcli';

# addresses: { interface => [ADDRESS/PREFIX, ...] }.
sub addresses {
    my ($model, $facts) = @_;
    my %addresses;
    push @{ $addresses{ $_->{interface} } }, $_->{ip} for @{ $model->{floatingIps} };
    for my $service (@{ $model->{vips} }, @{ $model->{ssl} }) {
        my $interface = LB::Model::interface_for($model, $facts, $service->{ip});
        push @{ $addresses{$interface} }, "$service->{ip}/32" if defined $interface;
    }
    return \%addresses;
}

# render: { path => text } of every file lbcli wants, and undef for those it wrote before
# and wants no more.
sub render {
    my ($model, $facts) = @_;
    my %files = map { $_ => undef } glob("$DIRECTORY/$OWN_FILE-*.network $DIRECTORY/*.network.d/$OWN_FILE.conf");
    my $addresses = addresses($model, $facts);
    for my $interface (sort keys %$addresses) {
        my $lines = join '', map { "Address=$_\n" } @{ $addresses->{$interface} };
        my $header = "# Written by lbcli from /etc/loadbalancer/services.json: VIPs and floating IPs on $interface.\n";
        if (my $network_file = $facts->{network_files}{$interface}) {
            $files{"$network_file.d/$OWN_FILE.conf"} = "$header\[Network]\n$lines";
        } else {
            $files{"$DIRECTORY/$OWN_FILE-$interface.network"} = "$header\[Match]\nName=$interface\n\n[Link]\nRequiredForOnline=no\n\n"
                . "[Network]\nConfigureWithoutCarrier=yes\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n$lines";
        }
    }
    return \%files;
}

1;
