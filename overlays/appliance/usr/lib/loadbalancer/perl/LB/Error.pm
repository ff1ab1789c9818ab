package LB::Error;
# The one error type lbcli's library throws: its exit status (2 bad input, 1 applying
# failed) and the one-line reason shown to the user.
use strict;
use warnings;

sub bad_input { my ($class, $message) = @_; die bless { status => 2, message => $message }, $class }
sub apply_failed { my ($class, $message) = @_; die bless { status => 1, message => $message }, $class }

sub status { $_[0]{status} }
sub message { $_[0]{message} }

1;
