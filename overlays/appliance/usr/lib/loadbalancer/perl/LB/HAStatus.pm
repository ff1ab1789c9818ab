package LB::HAStatus;
# The pair's state as the guide's status bar shows it: this node's role (master, slave,
# or none when not paired), whether it is active (holds the floating IPs) or passive,
# whether the heartbeat link to the peer is up, whether both nodes have the same
# configuration, and the guide's warning states.
use strict;
use warnings;
use JSON::PP;
use LB::Run qw(run);
use LB::HA;
use LB::Floating;
use LB::Peer;
use LB::Sync;

sub cl_status {
    my (@arguments) = @_;
    my ($status, $output) = run(['cl_status', @arguments]);
    chomp $output;
    return $status == 0 ? $output : undef;
}

# status(MODEL, ASK_PEER): the ha-status object; ASK_PEER compares the configuration
# with the peer's (over lb-peer ha-status) for the sync field.
sub status {
    my ($model, $ask_peer) = @_;
    my $hash = LB::HA::config_hash($model);
    return { role => 'none', state => 'active', link => 'down', peer => undef, heartbeat => undef,
        sync => undef, configHash => $hash, warning => undef } unless LB::HA::paired($model);
    my $peer = LB::HA::peer($model);
    my $running = defined cl_status('hbstatus');
    my $node_status = $running ? cl_status('nodestatus', $peer->{name}) // 'unknown' : 'unknown';
    my $resources = $running ? cl_status('rscstatus') // 'unknown' : 'unknown';
    my $link = $node_status =~ /^(active|up)$/ ? 'up' : 'down';
    my $state = LB::Floating::holding() ? 'active' : 'passive';
    my $heartbeat = $model->{ha}{heartbeat};
    my %status = (role => LB::HA::role($model), state => $state, link => $link,
        peer => { name => $peer->{name}, address => $peer->{address}, heartbeatStatus => $node_status },
        heartbeat => { running => $running ? JSON::PP::true : JSON::PP::false, media => $heartbeat->{media},
            interface => $heartbeat->{interface}, serialPort => $heartbeat->{serialPort}, resources => $resources },
        configHash => $hash, warning => undef);
    my $last = LB::Sync::last_push();
    my %sync = (lastPush => $last ? $last->{result} : undef, peerHash => undef);
    if ($ask_peer) {
        my ($exit, $output) = LB::Peer::run_verb($peer->{address}, 'ha-status');
        my $answer = $exit == 0 ? LB::Peer::json_answer($output) : undef;
        if (ref $answer eq 'HASH' && $answer->{configHash}) {
            $sync{peerHash} = $answer->{configHash};
            $sync{status} = $answer->{configHash} eq $hash ? 'in-sync' : 'out-of-sync';
        } else {
            $sync{status} = 'unknown';
            $sync{error} = "cannot ask $peer->{name} ($peer->{address}) over SSH: " . ($output =~ s/\s+/ /gr);
        }
    } else {
        # Without asking: what the last push from here says.
        $sync{status} = !$last ? 'unknown' : $last->{result} eq 'ok' && $last->{hash} eq $hash ? 'in-sync' : 'out-of-sync';
    }
    $status{sync} = \%sync;
    if ($link eq 'down') {
        $status{warning} = $state eq 'active'
            ? { code => 'both-active', message => "the heartbeat link to $peer->{name} is down, so its state cannot be known: the floating IPs may be active on both nodes; check the heartbeat configuration and cabling, the heartbeat log (journalctl -u heartbeat) and if required restart heartbeat on both (lbcli --action restart-heartbeat)" }
            : { code => 'link-down', message => "a peer ($peer->{name}) is defined but the heartbeat link to it is down; check the heartbeat configuration" };
    }
    return \%status;
}

sub text {
    my ($status) = @_;
    my @rows = (['role', $status->{role}], ['state', $status->{state}]);
    if ($status->{peer}) {
        push @rows, ['link', $status->{link}], ['peer', "$status->{peer}{name} ($status->{peer}{address})"],
            ['heartbeat', ($status->{heartbeat}{running} ? 'running' : 'stopped') . ", $status->{heartbeat}{media} on $status->{heartbeat}{interface}"
                . ($status->{heartbeat}{serialPort} ? " and $status->{heartbeat}{serialPort}" : '')],
            ['sync', $status->{sync}{status} . ($status->{sync}{lastPush} ? " (last push: $status->{sync}{lastPush})" : '')];
    } else {
        push @rows, ['peer', 'none (a single appliance)'];
    }
    push @rows, ['warning', $status->{warning}{message}] if $status->{warning};
    return join '', map { sprintf "%-10s %s\n", @$_ } @rows;
}

1;
