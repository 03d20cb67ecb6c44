// CountryLookup: the country of an IP address from an offline database, for the dashboard's map.
#ifndef NETGUARD_AGENT_GEO_COUNTRY_LOOKUP_H_
#define NETGUARD_AGENT_GEO_COUNTRY_LOOKUP_H_

#include <memory>
#include <mutex>
#include <string>

namespace netguard::geo {

/// What is known of one address.
struct Country {
  std::string code;    // ISO 3166-1 alpha-2; empty when unknown or local
  std::string name;    // English name; "local" for private ranges
  bool local = false;  // private, loopback, link-local, CGNAT, multicast, unique-local
};

/// True when `address` is an IPv4 or IPv6 address in text form.
bool IsIpAddress(const std::string& address);

/// True for addresses that never route on the Internet: 10/8, 172.16/12, 192.168/16, 127/8,
/// 169.254/16, 100.64/10, 0/8, multicast and broadcast, ::1, ::, fe80::/10, fc00::/7, ff00::/8
/// (and IPv4-mapped forms of these).
bool IsLocalAddress(const std::string& address);

/// The databases to open (the config's geoip section). Empty paths are skipped.
struct GeoDatabases {
  std::string mmdb{};         // a MaxMind .mmdb (both families): used alone when it opens
  std::string database{};     // Debian's legacy GeoIP.dat (IPv4): the fallback
  std::string database_v6{};  // Debian's legacy GeoIPv6.dat
};

/// Opens the MaxMind .mmdb when one is configured; without one, or when it cannot be opened
/// (missing, corrupt), Debian's legacy GeoIP.dat/GeoIPv6.dat instead. A file that cannot be opened
/// is logged once and named in error(); its family answers "unknown"; nothing throws.
/// Thread-safe.
class CountryLookup {
 public:
  explicit CountryLookup(const GeoDatabases& databases);
  ~CountryLookup();
  CountryLookup(const CountryLookup&) = delete;
  CountryLookup& operator=(const CountryLookup&) = delete;

  /// The country of `address`; std::invalid_argument when it is not an IPv4/IPv6 address.
  Country Lookup(const std::string& address) const;
  /// The databases in use ("" when none opened).
  const std::string& description() const { return description_; }
  /// Why a configured database is not in use ("" when every configured one opened).
  const std::string& error() const { return error_; }

 private:
  struct Handles;
  std::unique_ptr<Handles> handles_;
  std::string description_;
  std::string error_;
  mutable std::mutex mutex_;  // the legacy library's lookups are not documented thread-safe
};

}  // namespace netguard::geo

#endif  // NETGUARD_AGENT_GEO_COUNTRY_LOOKUP_H_
