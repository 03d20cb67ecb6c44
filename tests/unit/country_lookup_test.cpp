// CountryLookup (agent/geo): local ranges, Debian's legacy GeoIP databases, a missing database.
#include "geo/country_lookup.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>

namespace netguard::geo {
namespace {

constexpr char kV4[] = "/usr/share/GeoIP/GeoIP.dat";
constexpr char kV6[] = "/usr/share/GeoIP/GeoIPv6.dat";

TEST(CountryLookupTest, PrivateRangesAreLocal) {
  for (const char* a : {"10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "127.0.0.1",
                        "169.254.9.9", "100.64.0.1", "::1", "fe80::1", "fd00::5",
                        "::ffff:192.168.0.1", "224.0.0.251", "255.255.255.255", "ff02::2"}) {
    EXPECT_TRUE(IsLocalAddress(a)) << a;
  }
  for (const char* a : {"8.8.8.8", "172.32.0.1", "192.169.0.1", "2001:4860::8888", "100.128.0.1"}) {
    EXPECT_FALSE(IsLocalAddress(a)) << a;
  }
  EXPECT_TRUE(IsIpAddress("2001:db8::1"));
  EXPECT_FALSE(IsIpAddress("10.0.0.256"));
  EXPECT_FALSE(IsIpAddress("example.org"));
}

TEST(CountryLookupTest, DebianLegacyDatabases) {
  if (!std::filesystem::exists(kV4) || !std::filesystem::exists(kV6)) {
    GTEST_SKIP() << "geoip-database is not installed (scripts/install-deps.sh installs it)";
  }
  const CountryLookup lookup(kV4, kV6);
  EXPECT_EQ(lookup.description(), std::string(kV4) + ", " + kV6);
  const Country google = lookup.Lookup("8.8.8.8");
  EXPECT_EQ(google.code, "US");
  EXPECT_EQ(google.name, "United States");
  EXPECT_FALSE(google.local);
  EXPECT_EQ(lookup.Lookup("193.99.144.80").code, "DE");  // heise.de, RIPE
  EXPECT_FALSE(lookup.Lookup("2a00:1450:4001::1").code.empty());
  const Country home = lookup.Lookup("192.168.0.10");
  EXPECT_TRUE(home.local);
  EXPECT_EQ(home.name, "local");
  EXPECT_THROW(lookup.Lookup("not an address"), std::invalid_argument);
}

TEST(CountryLookupTest, MissingDatabasesAnswerUnknown) {
  const CountryLookup lookup("/nonexistent/GeoLite2-Country.mmdb", "");
  EXPECT_EQ(lookup.description(), "");
  const Country c = lookup.Lookup("8.8.8.8");
  EXPECT_EQ(c.code, "");
  EXPECT_FALSE(c.local);
  EXPECT_TRUE(lookup.Lookup("10.0.0.1").local);
}

}  // namespace
}  // namespace netguard::geo
