package LB::IPv4;
# IPv4 addresses and subnets.
use strict;
use warnings;
use Exporter 'import';
our @EXPORT_OK = qw(is_ipv4 is_cidr ipv4_to_int in_subnet);

# is_ipv4: four dot-separated numbers 0-255, no leading zeros.
sub is_ipv4 {
    my ($text) = @_;
    return 0 unless defined $text && $text =~ /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/;
    for my $part ($1, $2, $3, $4) {
        return 0 if $part =~ /^0\d/ || $part > 255;
    }
    return 1;
}

# is_cidr: ADDRESS/PREFIX with a prefix of 1 to 32.
sub is_cidr {
    my ($text) = @_;
    return 0 unless defined $text && $text =~ m{^([^/]+)/(\d{1,2})$};
    return is_ipv4($1) && $2 >= 1 && $2 <= 32;
}

sub ipv4_to_int { unpack 'N', pack 'C4', split /\./, $_[0] }

# in_subnet(ADDRESS, NETWORK_ADDRESS, PREFIX): ADDRESS lies in NETWORK_ADDRESS/PREFIX.
sub in_subnet {
    my ($address, $network, $prefix) = @_;
    my $mask = $prefix == 0 ? 0 : (0xFFFFFFFF << (32 - $prefix)) & 0xFFFFFFFF;
    return (ipv4_to_int($address) & $mask) == (ipv4_to_int($network) & $mask);
}

1;
