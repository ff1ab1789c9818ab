package LB::Model;
# The one configuration model, /etc/loadbalancer/services.json, and the guide's rules
# for changing it. Every change works on the model alone plus the facts about the
# machine (LB::System): the files and daemons follow from the model (LB::Apply).
use strict;
use warnings;
use JSON::PP;
use LB::Error;
use LB::IPv4 qw(is_ipv4 is_cidr in_subnet);

our $PATH = '/etc/loadbalancer/services.json';
my $LABEL = qr/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
# SSH and the WUI listen on every address: a service on their ports would keep them
# from starting at the next boot.
my %MANAGEMENT_PORTS = (22 => 'SSH', 9080 => 'the WUI', 9443 => 'the WUI');
my $JSON = JSON::PP->new->canonical->pretty;

sub empty { { version => 1, vips => [], ssl => [], floatingIps => [] } }

sub load {
    my ($path) = @_;
    return empty() unless -e $path;
    open my $file, '<', $path or LB::Error->apply_failed("cannot read $path: $!");
    my $model = eval { decode_json(do { local $/; <$file> }) };
    LB::Error->apply_failed("$path is not valid JSON: $@") unless ref $model eq 'HASH';
    LB::Error->apply_failed("$path has version " . ($model->{version} // 'none') . '; lbcli reads version 1')
        unless ($model->{version} // 0) == 1;
    $model->{$_} //= [] for qw(vips ssl floatingIps);
    return $model;
}

sub encode { $JSON->encode($_[0]) }

sub copy { decode_json(encode_json($_[0])) }

sub find_vip {
    my ($model, $label) = @_;
    my ($vip) = grep { $_->{label} eq $label } @{ $model->{vips} };
    return $vip;
}

sub find_ssl {
    my ($model, $label) = @_;
    my ($ssl) = grep { $_->{label} eq $label } @{ $model->{ssl} };
    return $ssl;
}

sub has_layer4 { scalar grep { $_->{layer} == 4 } @{ $_[0]{vips} } }
sub has_nat { scalar grep { $_->{layer} == 4 && $_->{forwarding} eq 'nat' } @{ $_[0]{vips} } }
sub ssl_of_engine { my ($model, $engine) = @_; grep { $_->{engine} eq $engine } @{ $model->{ssl} } }
sub rip_has_port { my ($vip) = @_; !($vip->{layer} == 4 && $vip->{forwarding} =~ /^(dr|tun)$/) }

# Addresses the model puts on interfaces: VIPs and SSL terminations (as /32) and floating IPs.
sub managed_addresses {
    my ($model) = @_;
    return ((map { $_->{ip} } @{ $model->{vips} }, @{ $model->{ssl} }), (map { $_->{ip} =~ s{/.*}{}r } @{ $model->{floatingIps} }));
}

# interface_for: the interface whose address (or floating IP) subnet contains ADDRESS.
sub interface_for {
    my ($model, $facts, $address) = @_;
    for my $owned (@{ $facts->{addresses} }, map { { interface => $_->{interface}, ip => $_->{ip} =~ s{/.*}{}r, prefix => $_->{ip} =~ s{.*/}{}r } } @{ $model->{floatingIps} }) {
        return $owned->{interface} if $owned->{prefix} < 32 && in_subnet($address, $owned->{ip}, $owned->{prefix});
    }
    return undef;
}

# The guide's rules, each naming the option that breaks it.

sub check_label {
    my ($option, $value) = @_;
    LB::Error->bad_input("--$option '$value' is not a label: 1 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit")
        unless $value =~ $LABEL;
}

sub check_ipv4 {
    my ($option, $value) = @_;
    LB::Error->bad_input("--$option '$value' is not an IPv4 address like 192.168.2.50") unless is_ipv4($value);
}

sub check_number {
    my ($option, $value, $min, $max) = @_;
    LB::Error->bad_input("--$option '$value' is not a whole number from $min to $max")
        unless $value =~ /^(0|[1-9]\d{0,5})$/ && $value >= $min && $value <= $max;
    return $value + 0;
}

sub check_service_port {
    my ($option, $port) = @_;
    LB::Error->bad_input("--$option: port $port is $MANAGEMENT_PORTS{$port}'s on every address of the appliance; choose another port")
        if $MANAGEMENT_PORTS{$port};
    return $port;
}

sub check_port { check_number($_[0], $_[1], 1, 65535) }

sub check_ports {
    my ($option, $value) = @_;
    my @ports = split /,/, $value, -1;
    LB::Error->bad_input("--$option '$value' is not a comma-separated list of ports from 1 to 65535")
        if !@ports || grep { !/^[1-9]\d{0,4}$/ || $_ > 65535 } @ports;
    @ports = map { check_service_port($option, $_ + 0) } @ports;
    my %seen;
    LB::Error->bad_input("--$option '$value' names port $_ twice") for grep { $seen{$_}++ } @ports;
    return \@ports;
}

sub check_choice {
    my ($option, $value, @choices) = @_;
    LB::Error->bad_input("--$option '$value' must be " . join(' or ', @choices)) unless grep { $_ eq $value } @choices;
}

sub check_new_label {
    my ($model, $label) = @_;
    check_label('vip', $label);
    LB::Error->bad_input("--vip $label is already a label in use; VIP and SSL termination labels are unique")
        if find_vip($model, $label) || find_ssl($model, $label);
}

# check_free_address: ADDRESS is no interface's address, VIP, SSL termination or floating IP.
sub check_free_address {
    my ($model, $facts, $address, $what) = @_;
    for my $owned (@{ $facts->{addresses} }) {
        LB::Error->bad_input("--ip $address is an address of $owned->{interface}; $what may not be an interface address")
            if $owned->{ip} eq $address;
    }
    for my $vip (@{ $model->{vips} }) {
        LB::Error->bad_input("--ip $address is already the address of VIP $vip->{label}") if $vip->{ip} eq $address;
    }
    for my $ssl (@{ $model->{ssl} }) {
        LB::Error->bad_input("--ip $address is already the address of SSL termination $ssl->{label}") if $ssl->{ip} eq $address;
    }
    for my $floating (@{ $model->{floatingIps} }) {
        LB::Error->bad_input("--ip $address is already a floating IP on $floating->{interface}") if $floating->{ip} =~ m{^\Q$address\E/};
    }
}

sub check_service_address {
    my ($model, $facts, $address, $what) = @_;
    check_ipv4('ip', $address);
    check_free_address($model, $facts, $address, $what);
    LB::Error->bad_input("--ip $address is in no interface's subnet; add a floating IP of its subnet first (add-floating-ip)")
        unless defined interface_for($model, $facts, $address);
}

sub vip_for_rip {
    my ($model, $label) = @_;
    my $vip = find_vip($model, $label);
    LB::Error->bad_input("--vip $label is an SSL termination; real servers belong to a VIP") if !$vip && find_ssl($model, $label);
    LB::Error->bad_input("--vip $label: no such VIP") unless $vip;
    return $vip;
}

sub find_rip {
    my ($vip, $label) = @_;
    my ($rip) = grep { $_->{label} eq $label } @{ $vip->{rips} };
    LB::Error->bad_input("--rip $label: no such RIP in VIP $vip->{label}") unless $rip;
    return $rip;
}

# The actions: each changes MODEL in place and returns what it did, in words.

sub add_vip {
    my ($model, $options, $facts) = @_;
    my ($label, $ip, $layer) = @$options{qw(vip ip layer)};
    check_choice('layer', $layer, 7, 4);
    check_new_label($model, $label);
    check_service_address($model, $facts, $ip, 'a VIP');
    my $vip = { label => $label, layer => $layer + 0, ip => $ip, ports => check_ports('ports', $options->{ports}), rips => [] };
    my %of_layer = (7 => ['mode'], 4 => ['protocol', 'forwarding']);
    my ($other) = grep { $_ != $layer } keys %of_layer;
    for my $option (@{ $of_layer{$other} }) {
        LB::Error->bad_input("--$option is for layer $other VIPs, not layer $layer") if exists $options->{$option};
    }
    for my $option (@{ $of_layer{$layer} }) {
        LB::Error->bad_input("add-vip --layer $layer needs --$option") unless exists $options->{$option};
    }
    if ($layer == 7) {
        check_choice('mode', $options->{mode}, qw(http tcp));
        $vip->{mode} = $options->{mode};
    } else {
        check_choice('protocol', $options->{protocol}, qw(tcp udp));
        check_choice('forwarding', $options->{forwarding}, qw(dr nat tun));
        @$vip{qw(protocol forwarding)} = @$options{qw(protocol forwarding)};
    }
    push @{ $model->{vips} }, $vip;
    return "added layer $layer VIP $label on $ip port " . join(',', @{ $vip->{ports} });
}

sub add_rip {
    my ($model, $options) = @_;
    my $vip = vip_for_rip($model, $options->{vip});
    my $label = $options->{rip};
    check_label('rip', $label);
    LB::Error->bad_input("--rip $label is already a RIP of VIP $vip->{label}") if grep { $_->{label} eq $label } @{ $vip->{rips} };
    check_ipv4('ip', $options->{ip});
    my $rip = { label => $label, ip => $options->{ip}, state => 'online' };
    if (rip_has_port($vip)) {
        $rip->{port} = exists $options->{port} ? check_port('port', $options->{port}) : $vip->{ports}[0];
    } elsif (exists $options->{port}) {
        LB::Error->bad_input("--port: RIPs of the \U$vip->{forwarding}\E mode VIP $vip->{label} have no port (port redirection is not possible); leave --port out");
    }
    $rip->{weight} = exists $options->{weight} ? check_number('weight', $options->{weight}, 0, $vip->{layer} == 7 ? 256 : 65535) : 100;
    if ($vip->{layer} == 4) {
        $rip->{$_} = exists $options->{$_} ? check_number($_, $options->{$_}, 0, 999999) : 0 for qw(minconns maxconns);
        LB::Error->bad_input("--minconns $rip->{minconns} is above --maxconns $rip->{maxconns}; 0 and 0 mean unlimited")
            if $rip->{minconns} > $rip->{maxconns};
    } else {
        for my $option (qw(minconns maxconns)) {
            LB::Error->bad_input("--$option is for layer 4 RIPs; $vip->{label} is a layer 7 VIP") if exists $options->{$option};
        }
    }
    push @{ $vip->{rips} }, $rip;
    return "added RIP $label ($rip->{ip}" . (defined $rip->{port} ? ":$rip->{port}" : '') . ") to VIP $vip->{label}";
}

sub delete_vip {
    my ($model, $options) = @_;
    my $label = $options->{vip};
    if (find_ssl($model, $label)) {
        $model->{ssl} = [grep { $_->{label} ne $label } @{ $model->{ssl} }];
        return "deleted SSL termination $label";
    }
    find_vip($model, $label) or LB::Error->bad_input("--vip $label: no such VIP or SSL termination");
    for my $ssl (@{ $model->{ssl} }) {
        LB::Error->bad_input("--vip $label is the backend of SSL termination $ssl->{label}; delete that first")
            if $ssl->{backendVip} eq $label;
    }
    $model->{vips} = [grep { $_->{label} ne $label } @{ $model->{vips} }];
    return "deleted VIP $label";
}

sub delete_rip {
    my ($model, $options) = @_;
    my $vip = vip_for_rip($model, $options->{vip});
    find_rip($vip, $options->{rip});
    $vip->{rips} = [grep { $_->{label} ne $options->{rip} } @{ $vip->{rips} }];
    return "deleted RIP $options->{rip} from VIP $vip->{label}";
}

sub set_rip_state {
    my ($model, $options, $state) = @_;
    my $vip = vip_for_rip($model, $options->{vip});
    my $rip = find_rip($vip, $options->{rip});
    $rip->{state} = $state;
    return "RIP $rip->{label} of VIP $vip->{label} is $state";
}

sub add_ssl_termination {
    my ($model, $options, $facts) = @_;
    my $label = $options->{vip};
    check_new_label($model, $label);
    check_service_address($model, $facts, $options->{ip}, 'an SSL termination');
    my $port = check_service_port('port', check_port('port', $options->{port}));
    my $backend = find_vip($model, $options->{'backend-vip'})
        or LB::Error->bad_input("--backend-vip $options->{'backend-vip'}: no such VIP");
    LB::Error->bad_input("--backend-vip $backend->{label} is a layer 4 VIP; SSL termination forwards HTTP to a layer 7 VIP")
        unless $backend->{layer} == 7;
    check_choice('engine', $options->{engine}, qw(stunnel pound));
    push @{ $model->{ssl} }, { label => $label, ip => $options->{ip}, port => $port, backendVip => $backend->{label},
        engine => $options->{engine}, cert => "/etc/loadbalancer/certs/$label.pem" };
    return "added SSL termination $label ($options->{engine}) on $options->{ip}:$port for VIP $backend->{label}";
}

sub add_floating_ip {
    my ($model, $options, $facts) = @_;
    my $cidr = $options->{ip};
    LB::Error->bad_input("--ip '$cidr' is not an address with prefix like 10.1.0.1/24") unless is_cidr($cidr);
    my ($address) = split m{/}, $cidr;
    check_free_address($model, $facts, $address, 'a floating IP');
    my $interface = $options->{interface};
    if (defined $interface) {
        LB::Error->bad_input("--interface $interface: no such network interface (" . join(', ', @{ $facts->{interfaces} }) . ')')
            unless grep { $_ eq $interface } @{ $facts->{interfaces} };
    } else {
        $interface = interface_for($model, $facts, $address)
            // LB::Error->bad_input("--ip $cidr is in no interface's subnet; name the interface with --interface");
    }
    push @{ $model->{floatingIps} }, { ip => $cidr, interface => $interface };
    return "added floating IP $cidr on $interface";
}

1;
