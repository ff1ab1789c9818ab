package LB::Render::Sysctl;
# /etc/sysctl.d/60-lb-ip-forward.conf: IPv4 forwarding, on only while a layer 4 NAT
# VIP exists (its RIPs route their replies through the appliance).
use strict;
use warnings;
use LB::Model;

our $PATH = '/etc/sysctl.d/60-lb-ip-forward.conf';

# render: the file's text, or undef when the file should not exist.
sub render {
    my ($model) = @_;
    return undef unless LB::Model::has_nat($model);
    return "# Written by lbcli: a layer 4 NAT VIP exists.\nnet.ipv4.ip_forward = 1\n";
}

1;
