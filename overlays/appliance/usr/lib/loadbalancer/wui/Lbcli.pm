package Lbcli;
# Runs lbcli for the WUI's CGIs: as root through sudo (lighttpd runs them as www-data,
# etc/sudoers.d/lb-wui), with its arguments as a list, never through a shell.
use strict;
use warnings;
use Exporter 'import';
use JSON::PP ();
use IPC::Open2 qw(open2);

our @EXPORT_OK = qw(lbcli lbcli_with_input);

my @LBCLI = ('/usr/bin/sudo', '-n', '/usr/local/sbin/lbcli');

# lbcli($action, @options) runs `lbcli --action $action @options --json` and returns its
# exit status and the JSON object it printed; when it printed none, an {"error": ...}
# object saying so. Its standard error goes to lighttpd's, the journal of lighttpd.service.
sub lbcli {
    my ($action, @options) = @_;
    open(my $out, '-|', @LBCLI, '--action', $action, @options, '--json')
        or return (1, { error => "cannot run lbcli: $!" });
    my $printed = do { local $/; <$out> } // '';
    close $out;
    return answer($action, $printed);
}

# lbcli_with_input($input, $action, @options): the same, with $input on lbcli's standard
# input (passwords and the HA join request: never in argv, where sudo logs it).
sub lbcli_with_input {
    my ($input, $action, @options) = @_;
    my ($out, $in);
    my $pid = eval { open2($out, $in, @LBCLI, '--action', $action, @options, '--json') };
    return (1, { error => "cannot run lbcli: $@" }) unless $pid;
    print {$in} $input;
    close $in;
    my $printed = do { local $/; <$out> } // '';
    waitpid $pid, 0;
    return answer($action, $printed);
}

sub answer {
    my ($action, $printed) = @_;
    my $status = $? & 127 ? 128 + ($? & 127) : $? >> 8;
    my $answer = eval { JSON::PP->new->utf8->decode($printed) };
    return ($status, $answer) if ref $answer eq 'HASH';
    return ($status || 1, { error => "lbcli --action $action exited $status without a JSON answer (its messages: journalctl -u lighttpd)" });
}

1;
