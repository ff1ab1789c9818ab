package LB::HAProxySocket;
# One command on HAProxy's admin socket (stats socket ... level admin).
use strict;
use warnings;
use IO::Socket::UNIX;
use LB::Render::HAProxy;

# command: HAProxy's answer, or undef when HAProxy does not answer.
sub command {
    my ($command) = @_;
    my $socket = IO::Socket::UNIX->new(Peer => $LB::Render::HAProxy::ADMIN_SOCKET, Type => SOCK_STREAM, Timeout => 5)
        or return undef;
    print {$socket} "$command\n";
    my $answer = do { local $/; <$socket> };
    close $socket;
    return $answer;
}

1;
