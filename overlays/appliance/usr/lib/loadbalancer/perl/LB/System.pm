package LB::System;
# Facts about the machine the model's rules need: its network interfaces and the
# addresses they carry that lbcli does not manage (the interface addresses proper),
# and the systemd-networkd file of each interface.
use strict;
use warnings;
use JSON::PP;
use LB::Run qw(run_ok);
use LB::Model;

sub facts {
    my ($model) = @_;
    my %managed = map { $_ => 1 } LB::Model::managed_addresses($model);
    my @addresses;
    for my $link (@{ decode_json(run_ok(['ip', '-j', '-4', 'addr', 'show'])) }) {
        next if $link->{ifname} eq 'lo';
        for my $info (@{ $link->{addr_info} // [] }) {
            next if $managed{ $info->{local} };
            push @addresses, { interface => $link->{ifname}, ip => $info->{local}, prefix => $info->{prefixlen} };
        }
    }
    opendir my $links, '/sys/class/net' or die "cannot list /sys/class/net: $!";
    my @interfaces = sort grep { !/^\.|^lo$/ } readdir $links;
    return { addresses => \@addresses, interfaces => \@interfaces, network_files => network_files() };
}

# network_files: { interface => the first .network file (not lbcli's) that matches it by Name= }.
sub network_files {
    my %files;
    for my $path (sort glob '/etc/systemd/network/*.network') {
        next if $path =~ m{/60-lbcli-};
        open my $file, '<', $path or next;
        while (<$file>) {
            next unless /^\s*Name\s*=\s*(.+?)\s*$/;
            $files{$_} //= $path for split ' ', $1;
        }
    }
    return \%files;
}

1;
