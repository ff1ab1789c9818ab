package LB::Options;
# lbcli's command line: ACTION (or --action ACTION), its options with their values,
# and the flags --json and --help.
use strict;
use warnings;
use LB::Error;

# Each action's options: required ones first, then the optional ones after '|'.
my %ACTIONS = (
    'add-vip'             => 'vip ip ports layer | mode protocol forwarding',
    'add-rip'             => 'vip rip ip | port weight minconns maxconns',
    'delete-vip'          => 'vip |',
    'delete-rip'          => 'vip rip |',
    'halt'                => 'vip rip |',
    'drain'               => 'vip rip |',
    'online'              => 'vip rip |',
    'add-ssl-termination' => 'vip ip port backend-vip engine | cert',
    'add-floating-ip'     => 'ip | interface',
    'list'                => '|',
    'status'              => '|',
    'ha-pair'             => 'peer-ip | peer-password heartbeat serial-port',
    'ha-join'             => '|',
    'ha-sync'             => '|',
    'ha-unpair'           => '|',
    'ha-status'           => '|',
    'restart-heartbeat'   => '|',
);
my %FLAGS = map { $_ => 1 } qw(json help local);

sub actions { sort keys %ACTIONS }

sub action_options {
    my ($action) = @_;
    my ($required, $optional) = map { [split ' '] } split /\|/, $ACTIONS{$action}, -1;
    return ($required, $optional);
}

# parse(@ARGV): { action, options => {name => value}, json, help }.
sub parse {
    my @args = @_;
    my %parsed = (options => {}, json => 0, help => 0);
    my $action;
    while (@args) {
        my $arg = shift @args;
        if ($arg !~ /^--/) {
            LB::Error->bad_input("unexpected argument '$arg'; one action, then its --options (see lbcli --help)")
                if defined $action;
            $action = $arg;
            next;
        }
        my ($name, $value) = $arg =~ /^--([^=]+)(?:=(.*))?$/s;
        $name //= '';
        if ($FLAGS{$name}) {
            LB::Error->bad_input("--$name takes no value") if defined $value;
            $parsed{$name} = 1;
            next;
        }
        my $known = $name eq 'action' || grep { $_ eq $name } map { split /[ |]+/ } values %ACTIONS;
        LB::Error->bad_input("unknown option '$arg' (see lbcli --help)") unless $known;
        $value = shift @args if !defined $value && @args && $args[0] !~ /^--/;
        LB::Error->bad_input("--$name needs a value") unless defined $value && length $value;
        LB::Error->bad_input("--$name is given twice") if exists $parsed{options}{$name} || ($name eq 'action' && defined $action);
        if ($name eq 'action') { $action = $value } else { $parsed{options}{$name} = $value }
    }
    return \%parsed if $parsed{help};
    LB::Error->bad_input('no action given (see lbcli --help)') unless defined $action;
    LB::Error->bad_input("unknown action '$action'; one of: " . join(', ', actions())) unless $ACTIONS{$action};
    my ($required, $optional) = action_options($action);
    my %allowed = map { $_ => 1 } @$required, @$optional;
    for my $name (sort keys %{ $parsed{options} }) {
        LB::Error->bad_input("$action takes no --$name") unless $allowed{$name};
    }
    for my $name (@$required) {
        LB::Error->bad_input("$action needs --$name") unless exists $parsed{options}{$name};
    }
    $parsed{action} = $action;
    return \%parsed;
}

1;
