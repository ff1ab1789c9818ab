package LB::Render::Pound;
# /etc/pound.cfg: the loopback listener of the default configuration plus one HTTPS
# listener per Pound SSL termination, forwarding plain HTTP to the backend VIP.
use strict;
use warnings;
use LB::Model;

our $PATH = '/etc/pound.cfg';

sub render {
    my ($model) = @_;
    my $text = <<'CFG';
# Written by lbcli from /etc/loadbalancer/services.json: change services with lbcli.
# The loopback listener answers 503; each SSL termination has a listener of its own.

ListenHTTP
	Address 127.0.0.1
	Port 8081
	Service
		Error 503
	End
End
CFG
    for my $ssl (LB::Model::ssl_of_engine($model, 'pound')) {
        my $backend = LB::Model::find_vip($model, $ssl->{backendVip});
        $text .= <<"CFG";

# $ssl->{label}
ListenHTTPS
	Address $ssl->{ip}
	Port $ssl->{port}
	Cert "$ssl->{cert}"
	Service
		Backend
			Address $backend->{ip}
			Port $backend->{ports}[0]
		End
	End
End
CFG
    }
    return $text;
}

1;
