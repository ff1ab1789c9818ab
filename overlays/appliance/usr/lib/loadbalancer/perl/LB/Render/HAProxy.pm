package LB::Render::HAProxy;
# /etc/haproxy/haproxy.cfg: the layer 7 VIPs, one "listen" section each, with short
# health checks so a dead RIP leaves the pool within a few seconds.
use strict;
use warnings;

our $PATH = '/etc/haproxy/haproxy.cfg';
our $ADMIN_SOCKET = '/run/haproxy/admin.sock';

sub render {
    my ($model) = @_;
    my $text = <<"CFG";
# Written by lbcli from /etc/loadbalancer/services.json: change services with lbcli.
global
    log /dev/log local0
    chroot /var/lib/haproxy
    stats socket $ADMIN_SOCKET mode 660 level admin
    stats timeout 30s
    user haproxy
    group haproxy
    daemon

defaults
    log global
    option dontlognull
    timeout connect 5s
    timeout client 50s
    timeout server 50s
    timeout check 1s
    default-server inter 1s fall 2 rise 2

listen stats
    mode http
    bind 127.0.0.1:7777
    stats enable
    stats uri /
    stats refresh 10s
CFG
    for my $vip (grep { $_->{layer} == 7 } @{ $model->{vips} }) {
        $text .= "\nlisten $vip->{label}\n    mode $vip->{mode}\n    option " . ($vip->{mode} eq 'http' ? 'httplog' : 'tcplog') . "\n";
        $text .= "    option forwardfor\n" if $vip->{mode} eq 'http';
        $text .= "    bind $vip->{ip}:$_\n" for @{ $vip->{ports} };
        $text .= "    balance roundrobin\n";
        for my $rip (@{ $vip->{rips} }) {
            my $weight = $rip->{state} eq 'drained' ? 0 : $rip->{weight};
            $text .= "    server $rip->{label} $rip->{ip}:$rip->{port} weight $weight check"
                . ($rip->{state} eq 'halted' ? ' disabled' : '') . "\n";
        }
    }
    return $text;
}

# runtime_commands: admin socket commands that put each RIP of layer 7 VIPs into its
# state at once, without a reload.
sub runtime_commands {
    my ($model) = @_;
    my @commands;
    for my $vip (grep { $_->{layer} == 7 } @{ $model->{vips} }) {
        for my $rip (@{ $vip->{rips} }) {
            my $server = "$vip->{label}/$rip->{label}";
            push @commands, $rip->{state} eq 'halted' ? "set server $server state maint"
                : $rip->{state} eq 'drained' ? "set server $server state drain"
                : ("set server $server state ready", "set weight $server $rip->{weight}");
        }
    }
    return @commands;
}

1;
