#!/usr/bin/perl
# The WUI's JSON API, /lbadmin/api/: lbcli's actions over HTTP, behind the WUI's basic
# authentication and lbsecure's management lockdown (the same lighttpd ports).
#   GET  /lbadmin/api/?action=list|status|ha-status
#   POST /lbadmin/api/ with an application/x-www-form-urlencoded body: action=ACTION and
#        lbcli's options without their dashes (vip=WEB&ip=192.168.2.50...); for ha-pair
#        peer-ip, peer-password (to lbcli on its standard input), heartbeat, serial-port
#   POST /lbadmin/api/?action=ha-join with an application/json body: the HA master's
#        join request, to lbcli on its standard input
# Answers lbcli's JSON: 200 when it succeeded, 400 for bad input (lbcli's exit 2, or a
# request this script refuses), 500 when applying failed (exit 1).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use JSON::PP ();
use Lbcli qw(lbcli lbcli_with_input);

my @READ_ACTIONS = qw(list status ha-status);
my @CHANGE_ACTIONS = qw(add-vip add-rip delete-vip delete-rip halt drain online add-ssl-termination add-floating-ip
    ha-pair restart-heartbeat);
my @OPTIONS = qw(vip rip ip ports layer mode protocol forwarding port weight minconns maxconns backend-vip engine interface
    peer-ip heartbeat serial-port);
# Fields that go to lbcli on its standard input, not as arguments.
my %STDIN_OPTION = ('ha-pair' => 'peer-password');
my $MAX_BODY_BYTES = 16384;
my $MAX_JOIN_BYTES = 1 << 20;
my %HTTP_STATUS_OF_EXIT = (0 => 200, 2 => 400, 1 => 500);
my %REASON = (200 => 'OK', 400 => 'Bad Request', 405 => 'Method Not Allowed', 413 => 'Content Too Large', 415 => 'Unsupported Media Type', 500 => 'Internal Server Error');

sub respond {
    my ($status, $answer, @headers) = @_;
    print "Status: $status $REASON{$status}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n";
    print "$_\r\n" for @headers;
    print "\r\n", JSON::PP->new->ascii->canonical->encode($answer), "\n";
    exit 0;
}

sub refuse {
    my ($status, $message, @headers) = @_;
    respond($status, { error => $message }, @headers);
}

sub one_of { my ($word, @words) = @_; return scalar grep { $_ eq $word } @words }

sub percent_decode {
    my ($text) = @_;
    refuse(400, "malformed percent-escape in '$text'") if $text =~ /%(?![0-9A-Fa-f]{2})/;
    $text =~ tr/+/ /;
    $text =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return $text;
}

# A query string or form body, strictly: name=value pairs, each name once, printable
# ASCII only (every value lbcli takes is; a value reaches lbcli as one argument).
sub parse_form {
    my ($text) = @_;
    my %form;
    for my $pair (split /&/, $text, -1) {
        my ($name, $value) = $pair =~ /\A([^=]+)=([^=]*)\z/ or refuse(400, "malformed field '$pair'; expected name=value");
        ($name, $value) = map { percent_decode($_) } $name, $value;
        refuse(400, "field '$name' is given more than once") if exists $form{$name};
        refuse(400, "field '$name' may hold printable ASCII characters only") if "$name$value" =~ /[^\x20-\x7e]/;
        $form{$name} = $value;
    }
    return \%form;
}

sub action_of {
    my ($form, @allowed) = @_;
    my $action = delete $form->{action} // refuse(400, "no action given; expected action=" . join('|', @allowed));
    return $action if one_of($action, @allowed);
    refuse(400, "action '$action' reads the configuration: use GET") if one_of($action, @READ_ACTIONS);
    refuse(400, "action '$action' changes the configuration: use POST") if one_of($action, @CHANGE_ACTIONS);
    refuse(400, "unknown action '$action'; expected one of " . join(', ', @allowed));
}

sub request_body {
    my ($type_pattern, $type_name, $max_bytes) = @_;
    my $type = $ENV{CONTENT_TYPE} // '';
    refuse(415, "the body must be $type_name, not '$type'") unless $type =~ $type_pattern;
    my $length = $ENV{CONTENT_LENGTH} // '';
    refuse(400, 'the request has no Content-Length') unless $length =~ /\A\d+\z/;
    refuse(413, "the body is larger than $max_bytes bytes") if $length > $max_bytes;
    binmode STDIN;
    my $body = '';
    while (length $body < $length) {
        my $read = read(STDIN, $body, $length - length $body, length $body);
        refuse(400, 'the body is shorter than its Content-Length') unless $read;
    }
    return $body;
}

my $method = $ENV{REQUEST_METHOD} // '';
my ($action, $form);
if ($method eq 'GET') {
    $form = parse_form($ENV{QUERY_STRING} // '');
    $action = action_of($form, @READ_ACTIONS);
} elsif ($method eq 'POST' && ($ENV{QUERY_STRING} // '') eq 'action=ha-join') {
    # The peer's lbcli --action ha-pair: JSON, checked by lbcli ha-join.
    my $body = request_body(qr{\Aapplication/json\s*(?:;.*)?\z}i, 'application/json', $MAX_JOIN_BYTES);
    my ($exit, $answer) = lbcli_with_input($body, 'ha-join');
    respond($HTTP_STATUS_OF_EXIT{$exit} // 500, $answer);
} elsif ($method eq 'POST') {
    refuse(400, 'POST takes its fields in the body; only action=ha-join goes in the query string') if length($ENV{QUERY_STRING} // '');
    $form = parse_form(request_body(qr{\Aapplication/x-www-form-urlencoded\s*(?:;.*)?\z}i, 'application/x-www-form-urlencoded', $MAX_BODY_BYTES));
    $action = action_of($form, @CHANGE_ACTIONS);
} else {
    refuse(405, "method $method is not allowed; use GET or POST", 'Allow: GET, POST');
}
my $stdin_option = $STDIN_OPTION{$action};
my @unknown = grep { !one_of($_, $method eq 'POST' ? @OPTIONS : (), $stdin_option // ()) } sort keys %$form;
refuse(400, "unknown field '$unknown[0]' for $method action $action") if @unknown;

# --name=value: one argument each, so a value that looks like an option stays a value.
my @arguments = map { "--$_=$form->{$_}" } grep { exists $form->{$_} } @OPTIONS;
my ($exit, $answer) = $stdin_option
    ? lbcli_with_input(($form->{$stdin_option} // '') . "\n", $action, @arguments)
    : lbcli($action, @arguments);
respond($HTTP_STATUS_OF_EXIT{$exit} // 500, $answer);
