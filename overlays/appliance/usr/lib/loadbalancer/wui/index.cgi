#!/usr/bin/perl
# System Overview of the WUI: version, addresses, the daemons' states and the virtual
# services with their real servers, coloured as the guide describes (green healthy,
# yellow needs attention, red all down, blue halted or drained), from lbcli's status.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Lbcli qw(lbcli);

my @DAEMONS = qw(haproxy stunnel4 pound ldirectord heartbeat ssh nftables);
my %VIP_STATE_TEXT = (
    'healthy'         => 'Healthy',
    'needs-attention' => 'Needs attention (a real server is down)',
    'all-down'        => 'Down (every real server is down)',
    'offline'         => 'Offline (every real server halted or drained)',
);
my %RIP_HEALTH_TEXT = (up => 'Online', down => 'Down (failed its health check)', halted => 'Online (Halt)', drained => 'Online (Drain)');
my %SSL_HEALTH_TEXT = (up => 'Online', down => 'Down');

sub html {
    my ($text) = @_;
    $text //= '';
    $text =~ s/&/&amp;/g;
    $text =~ s/</&lt;/g;
    $text =~ s/>/&gt;/g;
    $text =~ s/"/&quot;/g;
    $text =~ s/'/&#39;/g;
    return $text;
}

sub output_of {
    open(my $out, '-|', @_) or return '';
    my $text = do { local $/; <$out> } // '';
    close $out;
    $text =~ s/\s+\z//;
    return $text;
}

sub file_text {
    my ($file) = @_;
    open(my $in, '<', $file) or return '';
    my $text = do { local $/; <$in> } // '';
    $text =~ s/\s+\z//;
    return $text;
}

sub cells { return join('', map { '<td>' . html($_) . '</td>' } @_) }

sub message_row {
    my ($columns, $text) = @_;
    return qq(<tr class="message"><td colspan="$columns">) . html($text) . "</td></tr>\n";
}

# Protocol, method and mode columns as the guide's System Overview shows them.
sub vip_kind {
    my ($vip) = @_;
    return (uc($vip->{mode} // ''), 'Layer 7', 'Proxy') if ($vip->{layer} // '') eq '7';
    return (uc($vip->{protocol} // ''), 'Layer 4', uc($vip->{forwarding} // ''));
}

sub virtual_services_rows {
    my ($status) = @_;
    my @vips = @{ $status->{vips} // [] };
    return message_row(9, 'No virtual services are configured.') unless @vips;
    my $rows = '';
    for my $vip (@vips) {
        my @rips = @{ $vip->{rips} // [] };
        my $connections = 0;
        $connections += $_->{connections} // 0 for @rips;
        my $state = $vip->{state} // '';
        $rows .= sprintf(qq(<tr class="vip" data-vip="%s" data-state="%s">), html($vip->{label}), html($state))
            . cells($vip->{label}, $vip->{ip}, join(',', @{ $vip->{ports} // [] }), '', $connections, vip_kind($vip),
                $VIP_STATE_TEXT{$state} // $state)
            . "</tr>\n";
        for my $rip (@rips) {
            my $health = $rip->{health} // '';
            $rows .= sprintf(qq(<tr class="rip" data-vip="%s" data-rip="%s" data-health="%s">),
                    html($vip->{label}), html($rip->{label}), html($health))
                . cells($rip->{label}, $rip->{ip}, $rip->{port}, $rip->{weight}, $rip->{connections}, '', '', '',
                    $RIP_HEALTH_TEXT{$health} // $health)
                . "</tr>\n";
        }
    }
    return $rows;
}

sub ssl_rows {
    my ($status) = @_;
    my @terminations = @{ $status->{ssl} // [] };
    return message_row(6, 'No SSL terminations are configured.') unless @terminations;
    return join('', map {
        my $health = $_->{health} // '';
        sprintf(qq(<tr class="ssl" data-ssl="%s" data-health="%s">), html($_->{label}), html($health))
            . cells($_->{label}, $_->{ip}, $_->{port}, $_->{backendVip}, $_->{engine}, $SSL_HEALTH_TEXT{$health} // $health)
            . "</tr>\n"
    } @terminations);
}

sub floating_ip_rows {
    my ($status) = @_;
    my @ips = @{ $status->{floatingIps} // [] };
    return message_row(2, 'No floating IPs are configured.') unless @ips;
    return join('', map { '<tr>' . cells($_->{ip}, $_->{interface}) . "</tr>\n" } @ips);
}

my ($exit, $status) = lbcli('status');
my ($services, $ssl, $floating) = $exit == 0
    ? (virtual_services_rows($status), ssl_rows($status), floating_ip_rows($status))
    : map { message_row($_, "The status is unavailable: $status->{error}") } 9, 6, 2;
# One systemctl for all of them (a line each, in order): each run costs half a second under emulation.
my @states = split /\n/, output_of('systemctl', 'is-active', map { "$_.service" } @DAEMONS);
my $daemons = join('', map {
    '<tr><th>' . html($DAEMONS[$_]) . '</th><td>' . html($states[$_] || 'unknown') . "</td></tr>\n"
} 0 .. $#DAEMONS);
my ($version, $hostname, $addresses) = map { html($_) }
    file_text('/etc/loadbalancer/version'), file_text('/proc/sys/kernel/hostname'), output_of('ip', '-brief', 'address');

print "Content-Type: text/html; charset=utf-8\r\n\r\n";
print <<HTML;
<!DOCTYPE html>
<html><head><title>Loadbalancer.org appliance</title>
<style>
tr.vip[data-state="healthy"], tr.rip[data-health="up"], tr.ssl[data-health="up"] { background: #9e9 }
tr.vip[data-state="needs-attention"] { background: #ee7 }
tr.vip[data-state="all-down"], tr.rip[data-health="down"], tr.ssl[data-health="down"] { background: #e88 }
tr.vip[data-state="offline"], tr.rip[data-health="halted"], tr.rip[data-health="drained"] { background: #9be }
tr.rip td:first-child { padding-left: 2em }
</style></head><body>
<h1>Loadbalancer.org appliance</h1>
<h2>System overview</h2>
<table>
<tr><th>Version</th><td id="version">$version</td></tr>
<tr><th>Hostname</th><td id="hostname">$hostname</td></tr>
</table>
<h2>Virtual services</h2>
<table id="virtual-services">
<tr><th>Virtual service / real server</th><th>IP</th><th>Ports</th><th>Weight</th><th>Conns</th><th>Protocol</th><th>Method</th><th>Mode</th><th>State</th></tr>
$services</table>
<h2>SSL termination</h2>
<table id="ssl-terminations">
<tr><th>Label</th><th>IP</th><th>Port</th><th>Backend</th><th>Engine</th><th>State</th></tr>
$ssl</table>
<h2>Floating IPs</h2>
<table id="floating-ips">
<tr><th>IP</th><th>Interface</th></tr>
$floating</table>
<h2>Network interfaces</h2>
<pre id="addresses">$addresses</pre>
<h2>Services</h2>
<table id="services">
$daemons</table></body></html>
HTML
