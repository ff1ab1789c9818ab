package LB::Cert;
# SSL termination certificates: a given PEM must hold a certificate and its matching
# private key; without one, a self-signed certificate for the termination's address.
use strict;
use warnings;
use File::Temp qw(tempdir);
use LB::Error;
use LB::Run qw(run run_ok);

our $DIRECTORY = '/etc/loadbalancer/certs';
# Pound runs as a dynamic user in this group (its unit's SupplementaryGroups).
our $GROUP = 'ssl-cert';

sub public_key {
    my (@command) = @_;
    my ($status, $output) = run([@command, '-passin', 'pass:']);
    return $status == 0 ? $output : undef;
}

# from_file: the PEM text of FILE after checking it (bad input names --cert).
sub from_file {
    my ($path) = @_;
    LB::Error->bad_input("--cert $path: no such readable file") unless -f $path && -r _;
    my ($status, $certificate_key) = run(['openssl', 'x509', '-in', $path, '-noout', '-pubkey']);
    LB::Error->bad_input("--cert $path holds no PEM certificate") unless $status == 0;
    my $private_key = public_key('openssl', 'pkey', '-in', $path, '-pubout');
    LB::Error->bad_input("--cert $path holds no unencrypted PEM private key") unless defined $private_key;
    LB::Error->bad_input("--cert $path: its private key does not match its certificate") unless $private_key eq $certificate_key;
    open my $file, '<', $path or LB::Error->bad_input("--cert $path: $!");
    return do { local $/; <$file> };
}

# self_signed: PEM text of a new EC (P-256) key and a certificate for ADDRESS.
sub self_signed {
    my ($address) = @_;
    my $directory = tempdir('lbcli-cert-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    run_ok(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', "$directory/key.pem", '-out', "$directory/cert.pem", '-days', '3650',
        '-subj', "/CN=$address", '-addext', "subjectAltName=IP:$address"]);
    my $pem = '';
    for my $part ('cert.pem', 'key.pem') {
        open my $file, '<', "$directory/$part" or die "cannot read $directory/$part: $!";
        $pem .= do { local $/; <$file> };
    }
    return $pem;
}

1;
