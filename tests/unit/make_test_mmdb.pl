#!/usr/bin/perl
# Writes a small MaxMind country database for the GeoIP tests: make_test_mmdb.pl OUT.mmdb
# Documentation ranges (RFC 5737, RFC 3849) and one well-known public /24: data only, never dialled.
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift or die "usage: $0 OUT.mmdb\n";
my %types = (country => 'map', iso_code => 'utf8_string', names => 'map', en => 'utf8_string');
my $tree = MaxMind::DB::Writer::Tree->new(
  ip_version               => 6,
  record_size              => 24,
  database_type            => 'NetGuard-Test-Country',
  languages                => ['en'],
  description              => { en => 'NetGuard test countries' },
  map_key_type_callback    => sub { $types{ $_[0] } },
  alias_ipv6_to_ipv4       => 1,
  remove_reserved_networks => 0,    # the documentation ranges are the point
);
my %networks = (
  '192.0.2.0/24'    => [ 'FR', 'France' ],
  '198.51.100.0/24' => [ 'JP', 'Japan' ],
  '8.8.8.0/24'      => [ 'NZ', 'New Zealand' ],    # not what Debian's GeoIP.dat says (US)
  '2001:db8::/32'   => [ 'BR', 'Brazil' ],
);
for my $net (sort keys %networks) {
  my ($code, $name) = @{ $networks{$net} };
  $tree->insert_network($net, { country => { iso_code => $code, names => { en => $name } } });
}
open(my $fh, '>:raw', $out) or die "$out: $!\n";
$tree->write_tree($fh);
close($fh) or die "$out: $!\n";
