#!/usr/bin/perl
# The WUI's pages, each under the HA status bar (lbcli's ha-status: Master | Slave,
# Active | Passive, Link, and its warning) and the menu:
#   /lbadmin/               System Overview: version, addresses, the daemons' states and the
#                           virtual services with their real servers, coloured as the guide
#                           describes (green healthy, yellow needs attention, red all down,
#                           blue halted or drained), from lbcli's status
#   /lbadmin/?page=ha       Cluster Configuration > High-Availability: the guide's form to add
#                           the peer (POST action=ha-pair to the API) and Restart Heartbeat
#                           (POST action=restart-heartbeat)
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

sub overview_page {
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
    return <<HTML;
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
$daemons</table>
HTML
}

# The status bar, as the guide's: the lit words say what this node is (a single appliance,
# role none, is a master on its own), Link is lit while the heartbeat link is up.
#   <div id="ha-status" data-available="yes|no" data-role="master|slave|none|unknown"
#        data-state="active|passive|unknown" data-link="up|down|unknown">
# each word a <span class="ha-word" data-word="master|slave|active|passive|link"> with class
# "lit" when it applies; the warning in <span id="ha-warning">, the peer in <span id="ha-peer">,
# and when the status is unavailable (data-available="no") lbcli's error in <span id="ha-error">.
sub ha_status_bar {
    my ($exit, $ha) = lbcli('ha-status', '--local');
    if ($exit != 0 || ref $ha ne 'HASH' || !defined $ha->{role}) {
        my $error = ref $ha eq 'HASH' && defined $ha->{error} ? $ha->{error} : "lbcli --action ha-status exited $exit";
        return qq(<div id="ha-status" data-available="no" data-role="unknown" data-state="unknown" data-link="unknown">)
            . 'HA status unavailable: <span id="ha-error">' . html($error) . "</span></div>\n";
    }
    my $known = sub { my ($value, @values) = @_; return (grep { defined $value && $value eq $_ } @values) ? $value : 'unknown' };
    my $role = $known->($ha->{role}, qw(master slave none));
    my $state = $known->($ha->{state}, qw(active passive));
    my $link = $known->($ha->{link}, qw(up down));
    my $word = sub {
        my ($name, $text, $lit) = @_;
        return sprintf(qq(<span class="ha-word%s" data-word="%s">%s</span>), $lit ? ' lit' : '', $name, $text);
    };
    my $bar = qq(<div id="ha-status" data-available="yes" data-role="$role" data-state="$state" data-link="$link">)
        . $word->('master', 'Master', $role eq 'master' || $role eq 'none') . ' | ' . $word->('slave', 'Slave', $role eq 'slave')
        . ' &nbsp; ' . $word->('active', 'Active', $state eq 'active') . ' | ' . $word->('passive', 'Passive', $state eq 'passive')
        . ' &nbsp; ' . $word->('link', 'Link', $link eq 'up');
    my $peer = ref $ha->{peer} eq 'HASH' ? $ha->{peer} : undef;
    $bar .= ' &nbsp; <span id="ha-peer">Peer: ' . html($peer->{name}) . ' (' . html($peer->{address}) . ')</span>'
        if $peer && defined $peer->{name};
    $bar .= ' &nbsp; <span id="ha-warning">' . html($ha->{warning}) . '</span>'
        if defined $ha->{warning} && !ref $ha->{warning} && length $ha->{warning};
    return "$bar</div>\n";
}

# Cluster Configuration > High-Availability: the guide's "Create a clustered pair" form and
# the Restart Heartbeat button, both posting to the API (a small script shows its answer in
# #ha-result; without scripts the browser shows the API's JSON).
sub ha_page {
    my ($local) = output_of('ip', '-4', '-o', 'address', 'show', 'dev', 'eth0') =~ /\binet (\d+\.\d+\.\d+\.\d+)/;
    $local = html($local // 'none');
    return <<'HTML' =~ s/\@LOCAL\@/$local/r;
<h2>Create a clustered pair</h2>
<form id="ha-pair" method="post" action="/lbadmin/api/index.cgi">
<input type="hidden" name="action" value="ha-pair">
<table>
<tr><th>Local IP address</th><td id="local-address">@LOCAL@</td></tr>
<tr><th><label for="peer-ip">IP address of new peer</label></th><td><input id="peer-ip" name="peer-ip" required></td></tr>
<tr><th><label for="peer-password">Password for <i>loadbalancer</i> user on peer</label></th><td><input id="peer-password" name="peer-password" type="password" required></td></tr>
<tr><th><label for="heartbeat">Heartbeat</label></th><td><select id="heartbeat" name="heartbeat">
<option value="ucast" selected>Unicast (eth0)</option><option value="serial">Serial</option><option value="both">Unicast and serial</option>
</select></td></tr>
<tr><th><label for="serial-port">Serial port</label></th><td><input id="serial-port" name="serial-port" placeholder="/dev/ttyS0"></td></tr>
</table>
<button type="submit">Add new node</button>
</form>
<h2>Heartbeat</h2>
<form id="restart-heartbeat" method="post" action="/lbadmin/api/index.cgi">
<input type="hidden" name="action" value="restart-heartbeat">
<p>Restarting heartbeat causes a temporary outage of all load balanced services; on the master it restarts heartbeat on the slave too.</p>
<button type="submit">Restart Heartbeat</button>
</form>
<div id="ha-result" role="status"></div>
<script>
document.querySelectorAll('form[action="/lbadmin/api/index.cgi"]').forEach(function (form) {
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var result = document.getElementById('ha-result');
    var body = new URLSearchParams();
    new FormData(form).forEach(function (value, name) { if (value !== '') body.append(name, value); });
    if (body.get('heartbeat') === 'ucast') body.delete('serial-port');
    result.textContent = body.get('action') === 'ha-pair' ? 'Configuring...' : 'Restarting heartbeat...';
    fetch(form.action, { method: 'POST', body: body, credentials: 'same-origin' })
      .then(function (response) { return response.json().then(function (answer) { return [response.ok, answer]; }); })
      .then(function (reply) {
        result.dataset.ok = reply[0] ? 'yes' : 'no';
        result.textContent = reply[1].message || reply[1].error || (reply[0] ? 'Done.' : 'Failed.');
      })
      .catch(function (error) { result.dataset.ok = 'no'; result.textContent = 'The request failed: ' + error; });
  });
});
</script>
HTML
}

my %PAGES = (
    overview => ['System Overview', \&overview_page],
    ha => ['Cluster Configuration &gt; High-Availability', \&ha_page],
);
my $query = $ENV{QUERY_STRING} // '';
my $page = $query eq '' ? 'overview' : $query =~ /\Apage=([a-z]+)\z/ ? $1 : '';
unless ($PAGES{$page}) {
    print "Status: 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNo such page; the pages are /lbadmin/ and /lbadmin/?page=ha.\n";
    exit 0;
}
my $bar = ha_status_bar();
my $content = $PAGES{$page}[1]->();
my $menu = join(' | ', map {
    my $href = $_ eq 'overview' ? '/lbadmin/' : "/lbadmin/?page=$_";
    $_ eq $page ? qq(<b>$PAGES{$_}[0]</b>) : qq(<a href="$href">$PAGES{$_}[0]</a>)
} qw(overview ha));

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
#ha-status .ha-word { color: #999 }
#ha-status .ha-word.lit { color: #000; font-weight: bold }
#ha-status .ha-word.lit[data-word="link"] { color: #080 }
#ha-status #ha-warning, #ha-status[data-available="no"] { color: #a00 }
#ha-result[data-ok="no"] { color: #a00 }
</style></head><body>
$bar<h1>Loadbalancer.org appliance</h1>
<nav id="menu">$menu</nav>
$content</body></html>
HTML
