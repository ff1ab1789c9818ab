package LB::Sync;
# Keeping the two nodes' services.json the same: after a change here, the whole file is
# pushed to the peer (lb-peer sync, which applies it there as a local change without
# pushing back); a received file is checked by the same rules as a change made here.
# The last push's result is kept, for ha-status.
use strict;
use warnings;
use JSON::PP;
use File::Path qw(make_path);
use LB::Error;
use LB::Model;
use LB::HA;
use LB::Peer;
use LB::Apply;

our $LAST_PUSH = '/etc/loadbalancer/ha/last-push.json';
my $MAX_BYTES = 1 << 20;

# push_model(MODEL): "ok" or "failed: REASON"; the local change stands either way.
sub push_model {
    my ($model) = @_;
    my $peer = LB::HA::peer($model) or return 'failed: no peer in the ha section';
    my ($status, $output) = LB::Peer::run_verb($peer->{address}, 'sync', stdin => LB::Model::encode($model));
    my $answer = LB::Peer::json_answer($output);
    my $result = $status == 0 ? 'ok'
        : 'failed: ' . (ref $answer eq 'HASH' && $answer->{error} ? $answer->{error} : "ssh to $peer->{name} ($peer->{address}) exited $status: " . ($output =~ s/\s+/ /gr));
    make_path(dirname_of($LAST_PUSH));
    LB::Peer::write_text($LAST_PUSH, encode_json({ hash => LB::HA::config_hash($model), result => $result, at => time }), 0644);
    return $result;
}

sub dirname_of { $_[0] =~ s{/[^/]+$}{}r }

sub last_push {
    my $text = LB::Apply::read_file($LAST_PUSH) // return undef;
    return eval { decode_json($text) };
}

sub read_stdin {
    binmode STDIN;
    my $text = do { local $/; <STDIN> } // '';
    LB::Error->bad_input("the configuration on standard input is larger than $MAX_BYTES bytes") if length $text > $MAX_BYTES;
    my $object = eval { JSON::PP->new->utf8->decode($text) };
    LB::Error->bad_input('standard input is not a JSON object') unless ref $object eq 'HASH';
    return $object;
}

# check_services(RECEIVED, FACTS, WHAT): RECEIVED's services rebuilt through the same
# actions (and so the same rules) as changes made here; the rebuilt model.
sub check_services {
    my ($received, $facts, $what) = @_;
    LB::Error->bad_input("$what: not a services.json of version 1") unless ref $received eq 'HASH' && ($received->{version} // 0) eq 1;
    my %fields = map { $_ => 1 } qw(version vips ssl floatingIps ha);
    LB::Error->bad_input("$what: unknown field '$_'") for grep { !$fields{$_} } sort keys %$received;
    for my $list (qw(vips ssl floatingIps)) {
        LB::Error->bad_input("$what: $list must be a list of objects")
            if defined $received->{$list} && (ref $received->{$list} ne 'ARRAY' || grep { ref $_ ne 'HASH' } @{ $received->{$list} });
    }
    my $model = LB::Model::empty();
    my $rebuild = eval {
        LB::Model::add_floating_ip($model, { ip => $_->{ip}, interface => $_->{interface} }, $facts) for @{ $received->{floatingIps} // [] };
        for my $vip (@{ $received->{vips} // [] }) {
            my %options = (vip => $vip->{label}, ip => $vip->{ip}, layer => $vip->{layer},
                ports => join(',', @{ ref $vip->{ports} eq 'ARRAY' ? $vip->{ports} : [] }));
            $options{$_} = $vip->{$_} for grep { defined $vip->{$_} } qw(mode protocol forwarding);
            LB::Model::add_vip($model, \%options, $facts);
            for my $rip (@{ ref $vip->{rips} eq 'ARRAY' ? $vip->{rips} : [] }) {
                my %rip = (vip => $vip->{label}, rip => $rip->{label});
                $rip{$_} = $rip->{$_} for grep { defined $rip->{$_} } qw(ip port weight minconns maxconns);
                LB::Model::add_rip($model, \%rip, $facts);
                LB::Error->bad_input("RIP $rip->{label}: state must be online, halted or drained")
                    unless ($rip->{state} // '') =~ /^(online|halted|drained)$/;
                LB::Model::set_rip_state($model, { vip => $vip->{label}, rip => $rip->{label} }, $rip->{state});
            }
        }
        for my $ssl (@{ $received->{ssl} // [] }) {
            LB::Model::add_ssl_termination($model, { vip => $ssl->{label}, ip => $ssl->{ip}, port => $ssl->{port},
                'backend-vip' => $ssl->{backendVip}, engine => $ssl->{engine} }, $facts);
        }
        1;
    };
    LB::Error->bad_input("$what: " . (ref $@ ? $@->message : $@)) unless $rebuild;
    $model->{ha} = $received->{ha} if exists $received->{ha};
    return $model;
}

1;
