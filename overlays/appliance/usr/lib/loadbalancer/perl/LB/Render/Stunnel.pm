package LB::Render::Stunnel;
# /etc/stunnel/loadbalancer.conf, run by Debian's stunnel@loadbalancer.service (a
# "simple" unit: stunnel stays in the foreground). Each termination accepts HTTPS and
# forwards plain HTTP to its backend VIP's address and first port.
use strict;
use warnings;
use LB::Model;

our $PATH = '/etc/stunnel/loadbalancer.conf';
our $SERVICE = 'stunnel@loadbalancer.service';

sub render {
    my ($model) = @_;
    my $text = <<'CFG';
; Written by lbcli from /etc/loadbalancer/services.json: change services with lbcli.
foreground = yes
syslog = no
setuid = stunnel4
setgid = stunnel4
CFG
    for my $ssl (LB::Model::ssl_of_engine($model, 'stunnel')) {
        my $backend = LB::Model::find_vip($model, $ssl->{backendVip});
        $text .= "\n[$ssl->{label}]\naccept = $ssl->{ip}:$ssl->{port}\nconnect = $backend->{ip}:$backend->{ports}[0]\ncert = $ssl->{cert}\n";
    }
    return $text;
}

1;
