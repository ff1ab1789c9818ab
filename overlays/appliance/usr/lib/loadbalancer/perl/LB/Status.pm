package LB::Status;
# The running state of every service: HAProxy's "show stat" on its admin socket for
# layer 7 (health and current sessions), IPVS through ipvsadm for layer 4 (a RIP
# ldirectord found dead is not in IPVS: quiescent=no), listening sockets for the SSL
# terminations. VIP states follow the guide's colours.
use strict;
use warnings;
use LB::Run qw(run);
use LB::Model;
use LB::HAProxySocket;
use LB::Render::Stunnel;

# haproxy_servers: { "VIP/RIP" => { status, scur } }.
sub haproxy_servers {
    my $stat = LB::HAProxySocket::command('show stat') // return {};
    my ($header, @rows) = split /\n/, $stat;
    return {} unless defined $header && $header =~ s/^# //;
    my @columns = split /,/, $header;
    my %servers;
    for my $row (@rows) {
        my %field;
        @field{@columns} = split /,/, $row, -1;
        $servers{"$field{pxname}/$field{svname}"} = \%field;
    }
    return \%servers;
}

# ipvs_reals: { "tcp VIP:PORT" => { "RIP:PORT" => connections } }.
sub ipvs_reals {
    my ($status, $output) = run(['ipvsadm', '-Ln']);
    return {} unless $status == 0;
    my (%reals, $virtual);
    for (split /\n/, $output) {
        if (/^(TCP|UDP)\s+(\S+)/) { $virtual = lc($1) . " $2"; $reals{$virtual} //= {} }
        elsif (defined $virtual && /^\s+->\s+(\d\S*)\s+\S+\s+\d+\s+(\d+)\s+(\d+)/) { $reals{$virtual}{$1} = $2 + $3 }
    }
    return \%reals;
}

sub listening {
    my ($status, $output) = run(['ss', '-Hltn']);
    return { map { (split ' ')[3] => 1 } split /\n/, $output };
}

sub layer7_rip {
    my ($vip, $rip, $servers) = @_;
    my $server = $servers->{"$vip->{label}/$rip->{label}"} // {};
    return (($server->{status} // '') =~ /^(UP|DRAIN|NOLB)/ ? 'up' : 'down', $server->{scur} || 0);
}

sub layer4_rip {
    my ($vip, $rip, $reals) = @_;
    my ($present, $connections) = (1, 0);
    for my $port (@{ $vip->{ports} }) {
        my $real = $reals->{"$vip->{protocol} $vip->{ip}:$port"}{ "$rip->{ip}:" . ($rip->{port} // $port) };
        $present &&= defined $real;
        $connections += $real // 0;
    }
    return ($present ? 'up' : 'down', $connections);
}

sub vip_state {
    my (@rips) = @_;
    my @online = grep { $_->{health} =~ /^(up|down)$/ } @rips;
    my $up = grep { $_->{health} eq 'up' } @online;
    return !@online ? 'offline' : $up == @online ? 'healthy' : $up ? 'needs-attention' : 'all-down';
}

sub status {
    my ($model) = @_;
    my $servers = haproxy_servers();
    my $reals = LB::Model::has_layer4($model) ? ipvs_reals() : {};
    my @vips;
    for my $vip (@{ $model->{vips} }) {
        my %entry = map { exists $vip->{$_} ? ($_ => $vip->{$_}) : () } qw(label layer ip ports mode protocol forwarding);
        for my $rip (@{ $vip->{rips} }) {
            my ($health, $connections) = $vip->{layer} == 7 ? layer7_rip($vip, $rip, $servers) : layer4_rip($vip, $rip, $reals);
            $health = $rip->{state} if $rip->{state} ne 'online';
            push @{ $entry{rips} }, { (map { exists $rip->{$_} ? ($_ => $rip->{$_}) : () } qw(label ip port weight)),
                health => $health, connections => $connections + 0 };
        }
        $entry{rips} //= [];
        $entry{state} = vip_state(@{ $entry{rips} });
        push @vips, \%entry;
    }
    my $listening = listening();
    my %engine_active = map { $_ => (run(['systemctl', 'is-active', '--quiet', $_]))[0] == 0 } 'pound.service', $LB::Render::Stunnel::SERVICE;
    my @ssl = map {
        my $unit = $_->{engine} eq 'pound' ? 'pound.service' : $LB::Render::Stunnel::SERVICE;
        { label => $_->{label}, ip => $_->{ip}, port => $_->{port}, backendVip => $_->{backendVip},
          engine => $_->{engine}, health => $engine_active{$unit} && $listening->{"$_->{ip}:$_->{port}"} ? 'up' : 'down' }
    } @{ $model->{ssl} };
    return { vips => \@vips, ssl => \@ssl, floatingIps => $model->{floatingIps} };
}

1;
