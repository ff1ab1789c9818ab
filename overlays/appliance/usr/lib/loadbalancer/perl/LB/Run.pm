package LB::Run;
# Runs a program from an argument list (never through a shell) and returns its exit
# status with its standard output and error merged.
use strict;
use warnings;
use IPC::Open3 qw(open3);
use Symbol qw(gensym);
use Exporter 'import';
our @EXPORT_OK = qw(run run_ok);

# run([program, args...], stdin => TEXT): (exit status, output).
sub run {
    my ($command, %options) = @_;
    my $input = gensym;
    my $output = gensym;
    my $pid = open3($input, $output, undef, @$command);
    print {$input} $options{stdin} if defined $options{stdin};
    close $input;
    my $text = do { local $/; <$output> } // '';
    waitpid $pid, 0;
    return ($? >> 8, $text);
}

# run_ok: run, then fail with the program's own words when it exits non-zero.
sub run_ok {
    my ($command, %options) = @_;
    my ($status, $text) = run($command, %options);
    if ($status != 0) {
        require LB::Error;
        chomp $text;
        LB::Error->apply_failed("@$command failed: " . ($text =~ s/\n/; /gr));
    }
    return $text;
}

1;
