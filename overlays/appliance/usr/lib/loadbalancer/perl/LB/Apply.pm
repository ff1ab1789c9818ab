package LB::Apply;
# Applies a changed model: renders every daemon's file into FILE.new, has the daemons
# check them, swaps the changed ones in, reloads or restarts only the daemons whose
# files changed (starting or stopping ldirectord and stunnel with their first or last
# service), puts the addresses on the interfaces, and only then writes services.json.
# Any failure puts the previous files back, so the running configuration and
# services.json stay as they were. On a node of an HA pair heartbeat owns the
# addresses: no networkd persistence, and only the active node (the one holding the
# lb-floating-ips resource) places them and runs ldirectord.
use strict;
use warnings;
use Fcntl qw(:flock);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use LB::Error;
use LB::Run qw(run run_ok);
use LB::Model;
use LB::Check;
use LB::Cert;
use LB::HAProxySocket;
use LB::Render::HAProxy;
use LB::Render::Ldirectord;
use LB::Render::Stunnel;
use LB::Render::Pound;
use LB::Render::Nftables;
use LB::Render::Networkd;
use LB::Render::Sysctl;
use LB::Render::Heartbeat;
use LB::HA;
use LB::Floating;

our $LOCK = '/run/lock/lbcli.lock';

# lock: holds the one lock of lbcli (the console and the WUI) until the process ends.
sub lock {
    open my $lock, '>>', $LOCK or LB::Error->apply_failed("cannot open $LOCK: $!");
    flock $lock, LOCK_EX or LB::Error->apply_failed("cannot lock $LOCK: $!");
    return $lock;
}

# files: [ { path, content (undef: the file must not exist), check } ] for MODEL.
sub files {
    my ($model, $facts) = @_;
    my $stunnel = LB::Model::ssl_of_engine($model, 'stunnel');
    my @files = (
        { path => $LB::Render::HAProxy::PATH, content => LB::Render::HAProxy::render($model), check => \&LB::Check::haproxy },
        { path => $LB::Render::Ldirectord::PATH, content => LB::Render::Ldirectord::render($model), check => \&LB::Check::ldirectord },
        # stunnel refuses a file without services: the file exists only with them.
        { path => $LB::Render::Stunnel::PATH, content => $stunnel ? LB::Render::Stunnel::render($model) : undef, check => \&LB::Check::stunnel },
        { path => $LB::Render::Pound::PATH, content => LB::Render::Pound::render($model), check => \&LB::Check::pound },
        { path => $LB::Render::Nftables::PATH, content => LB::Render::Nftables::render($model),
          check => sub { LB::Check::nftables($_[0], $LB::Render::Nftables::PATH) } },
        { path => $LB::Render::Sysctl::PATH, content => LB::Render::Sysctl::render($model) },
    );
    if (LB::HA::paired($model)) {
        my $timers = LB::HA::timers();
        push @files, { path => $LB::Render::Heartbeat::HA_CF, content => LB::Render::Heartbeat::ha_cf($model, $timers) },
            { path => $LB::Render::Heartbeat::HARESOURCES, content => LB::Render::Heartbeat::haresources($model) };
    }
    # A paired node's addresses move with heartbeat: none is persisted.
    my $networkd = LB::Render::Networkd::render(LB::HA::paired($model) ? LB::Model::empty() : $model, $facts);
    push @files, map { { path => $_, content => $networkd->{$_} } } sort keys %$networkd;
    return \@files;
}

sub read_file {
    my ($path) = @_;
    open my $file, '<', $path or return undef;
    return do { local $/; <$file> };
}

sub write_file {
    my ($path, $content, $mode) = @_;
    make_path(dirname($path));
    open my $file, '>', $path or LB::Error->apply_failed("cannot write $path: $!");
    print {$file} $content;
    close $file or LB::Error->apply_failed("cannot write $path: $!");
    chmod $mode // 0644, $path;
}

# put: FILE becomes CONTENT (or is removed for undef), through FILE.new and a rename.
sub put {
    my ($path, $content) = @_;
    if (defined $content) {
        write_file("$path.new", $content);
        rename "$path.new", $path or LB::Error->apply_failed("cannot rename $path.new: $!");
    } elsif (-e $path) {
        unlink $path or LB::Error->apply_failed("cannot remove $path: $!");
    }
}

# apply(OLD, NEW, FACTS, certs => { path => pem }, runtime => 1 for a RIP state change,
#       hold => 1 when a paired NEW is to hold the addresses now (the master pairing),
#       defer_heartbeat => 1 to enable heartbeat without starting it (the slave joining:
#       the master starts it there once its own half is done, so the slave does not take
#       the addresses while the master's heartbeat is not up yet)):
# the message of the change, once NEW runs.
sub apply {
    my ($old, $new, $facts, %options) = @_;
    my $certs = $options{certs} // {};
    my @changed = grep { (($_->{old} = read_file($_->{path})) // "\0") ne ($_->{content} // "\0") } @{ files($new, $facts) };
    my @written;
    my $failure = eval {
        for my $path (sort keys %$certs) {
            install_certificate($path, $certs->{$path});
            push @written, $path;
        }
        for my $file (grep { defined $_->{content} && $_->{check} } @changed) {
            write_file("$file->{path}.new", $file->{content});
            push @written, "$file->{path}.new";
            my $refusal = $file->{check}->("$file->{path}.new");
            return "$file->{path}: the daemon's check refused it: $refusal" if defined $refusal;
        }
        return undef;
    };
    $failure //= $@ && (ref $@ ? $@->message : $@);
    if ($failure) {
        unlink @written;
        LB::Error->apply_failed("$failure (nothing was changed)");
    }
    unlink grep { /\.new$/ } @written;

    my $activated = eval {
        put($_->{path}, $_->{content}) for @changed;
        activate($old, $new, $facts, \@changed, $options{runtime}, $options{hold}, $options{defer_heartbeat});
        put($LB::Model::PATH, LB::Model::encode($new));
        1;
    };
    return if $activated;
    my $error = ref $@ ? $@->message : $@;
    eval {
        put($_->{path}, $_->{old}) for @changed;
        activate($new, $old, $facts, \@changed, 0);
    };
    unlink sort keys %$certs;
    LB::Error->apply_failed("$error (the previous configuration was put back)");
}

sub install_certificate {
    my ($path, $pem) = @_;
    my $group = getgrnam($LB::Cert::GROUP) // LB::Error->apply_failed("no group $LB::Cert::GROUP for the certificates");
    make_path($LB::Cert::DIRECTORY);
    chown 0, $group, $LB::Cert::DIRECTORY;
    chmod 0750, $LB::Cert::DIRECTORY;
    write_file($path, $pem, 0640);
    chown 0, $group, $path;
}

sub systemctl { run_ok(['systemctl', @_]) }

sub unit_active { (run(['systemctl', 'is-active', '--quiet', $_[0]]))[0] == 0 }

# follow: UNIT runs while WANTED (enabled, started, reloaded or restarted when its file
# CHANGED) and is stopped and disabled otherwise.
sub follow {
    my ($unit, $wanted, $changed, $reload) = @_;
    if (!$wanted) {
        systemctl('disable', '--now', '--quiet', $unit) if unit_active($unit) || (run(['systemctl', 'is-enabled', '--quiet', $unit]))[0] == 0;
    } elsif (!unit_active($unit)) {
        # A restart, not a start: a daemon left running by a failed start would ignore
        # "start" and keep its old configuration.
        systemctl('enable', '--quiet', $unit);
        systemctl('restart', $unit);
    } elsif ($changed) {
        systemctl($reload, $unit);
    }
}

sub activate {
    my ($old, $new, $facts, $changed, $runtime, $hold, $defer_heartbeat) = @_;
    my %changed = map { $_->{path} => 1 } @$changed;
    my $paired = LB::HA::paired($new);
    my $holding = !$paired || $hold || LB::Floating::holding();
    if ($changed{$LB::Render::HAProxy::PATH}) {
        my $at_once = $runtime && !grep { !defined LB::HAProxySocket::command($_) } LB::Render::HAProxy::runtime_commands($new);
        systemctl('reload-or-restart', 'haproxy.service') unless $at_once;
    }
    follow('ldirectord.service', LB::Model::has_layer4($new) && $holding, $changed{$LB::Render::Ldirectord::PATH}, 'reload');
    follow($LB::Render::Stunnel::SERVICE, scalar LB::Model::ssl_of_engine($new, 'stunnel'), $changed{$LB::Render::Stunnel::PATH}, 'restart');
    # Pound has no reload: it stops on SIGHUP.
    systemctl('restart', 'pound.service') if $changed{$LB::Render::Pound::PATH};
    systemctl('reload-or-restart', 'nftables.service') if $changed{$LB::Render::Nftables::PATH};
    run_ok(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=' . (LB::Model::has_nat($new) ? 1 : 0)]) if $changed{$LB::Render::Sysctl::PATH};
    LB::Floating::remember($new, $facts) if $paired;
    if (!$paired) {
        place_addresses($old, $new, $facts);
        unlink $LB::Floating::RECORD, $LB::Floating::REMEMBERED;
    } elsif ($holding) {
        # The resource's own start: adds the new addresses, removes the stale ones.
        LB::Floating::start($new, $facts);
        place_addresses($old, $new, $facts);
    } else {
        place_addresses($old, LB::Model::empty(), $facts);
    }
    if ($paired && ($changed{$LB::Render::Heartbeat::HA_CF} || $changed{$LB::Render::Heartbeat::HARESOURCES})) {
        # --no-block: heartbeat's stop and start run lb-floating-ips, which waits for
        # lbcli's lock, held until lbcli ends.
        systemctl('enable', '--quiet', 'heartbeat.service');
        systemctl('restart', '--no-block', 'heartbeat.service') unless $defer_heartbeat;
    } elsif (!$paired && LB::HA::paired($old)) {
        systemctl('disable', '--quiet', 'heartbeat.service');
        systemctl('stop', '--no-block', 'heartbeat.service');
    }
}

# place_addresses: the running interfaces carry NEW's addresses and none OLD had alone.
# systemd-networkd is not told of its changed files: it would reconfigure the interface,
# dropping and re-adding every address (eth0's own too). It reads them at the next boot,
# or when the Network Setup Wizard reloads it.
sub place_addresses {
    my ($old, $new, $facts) = @_;
    my $wanted = LB::Render::Networkd::addresses($new, $facts);
    my %present;
    for (split /\n/, run_ok(['ip', '-4', '-o', 'addr', 'show'])) {
        $present{"$2 $1"} = 1 if m{^\d+:\s+(\S+)\s+inet\s+(\S+)};
    }
    my %keep;
    for my $interface (sort keys %$wanted) {
        for my $address (@{ $wanted->{$interface} }) {
            $keep{"$address $interface"} = 1;
            run_ok(['ip', 'addr', 'replace', $address, 'dev', $interface]) unless $present{"$address $interface"};
        }
        run_ok(['ip', 'link', 'set', $interface, 'up']);
    }
    my $before = LB::Render::Networkd::addresses($old, $facts);
    for my $interface (sort keys %$before) {
        for my $address (grep { !$keep{"$_ $interface"} && $present{"$_ $interface"} } @{ $before->{$interface} }) {
            # systemd-networkd may have removed it already.
            run(['ip', 'addr', 'del', $address, 'dev', $interface]);
        }
    }
}

1;
