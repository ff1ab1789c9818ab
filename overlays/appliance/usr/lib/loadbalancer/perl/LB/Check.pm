package LB::Check;
# The daemons' own checks of a candidate configuration file. Each returns undef when
# the daemon accepts the file, else the daemon's own words.
use strict;
use warnings;
use File::Temp qw(tempfile);
use IPC::Open3 qw(open3);
use IO::Select;
use Symbol qw(gensym);
use LB::Run qw(run);

sub failed_output {
    my ($status, $output, $accepted) = @_;
    return undef if grep { $_ == $status } @$accepted;
    chomp $output;
    return $output =~ s/\n+/; /gr || "exit status $status";
}

sub haproxy { failed_output(run(['haproxy', '-c', '-q', '-f', $_[0]]), [0]) }

sub pound { failed_output(run(['pound', '-c', '-f', $_[0]]), [0]) }

# ldirectord parses the file before it acts; "status" of a file it is not running
# with then reports "stopped" (3). A configuration error exits 2.
sub ldirectord { failed_output(run(['ldirectord', $_[0], 'status']), [3]) }

# nftables: the candidate with every other rule file of /etc/nftables.d, as
# /etc/nftables.conf would load them.
sub nftables {
    my ($candidate, $replaces) = @_;
    my ($file, $path) = tempfile('lbcli-nft-XXXXXX', TMPDIR => 1, UNLINK => 1);
    print {$file} "flush ruleset\n", map({ "include \"$_\"\n" } grep { $_ ne $replaces } sort glob '/etc/nftables.d/*.nft'),
        "include \"$candidate\"\n";
    close $file;
    return failed_output(run(['nft', '-c', '-f', $path]), [0]);
}

# stunnel has no check-only mode: the candidate is started in a private network
# namespace (where it may bind any address) until it reports its configuration
# successful or fails; then it is stopped.
my $STUNNEL_WAIT_SECONDS = 20;

sub stunnel {
    my ($candidate) = @_;
    my $output = gensym;
    my $pid = open3(my $input, $output, undef, 'unshare', '--net', '--', 'sh', '-c',
        'echo 1 >/proc/sys/net/ipv4/ip_nonlocal_bind && exec stunnel4 "$1"', 'stunnel-check', $candidate);
    close $input;
    my $select = IO::Select->new($output);
    my ($log, $verdict) = ('', undef);
    my $deadline = time + $STUNNEL_WAIT_SECONDS;
    while (!defined $verdict) {
        my $left = $deadline - time;
        if ($left <= 0 || !$select->can_read($left)) { $verdict = "stunnel did not report its configuration within ${STUNNEL_WAIT_SECONDS}s"; last }
        my $read = sysread $output, my $chunk, 4096;
        if (!$read) { $verdict = failed_output(1, join("\n", $log =~ /^\[!\]\s*(.*)$/mg) || $log, []); last }
        $log .= $chunk;
        $verdict = '' if $log =~ /Configuration successful/;
    }
    kill 'TERM', $pid;
    waitpid $pid, 0;
    return $verdict eq '' ? undef : $verdict;
}

1;
