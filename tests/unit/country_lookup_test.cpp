// CountryLookup (agent/geo): local ranges, Debian's legacy GeoIP databases, a MaxMind .mmdb
// written at test time and its precedence, and a missing or corrupt .mmdb (fallback and error).
#include "geo/country_lookup.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "geo_test_util.h"

namespace netguard::geo {
namespace {

using testing::kLegacyV4;
using testing::kLegacyV6;

bool HaveLegacy() {
  return std::filesystem::exists(kLegacyV4) && std::filesystem::exists(kLegacyV6);
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ng-geo-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

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
  if (!HaveLegacy()) {
    GTEST_SKIP() << "geoip-database is not installed (scripts/install-deps.sh installs it)";
  }
  const CountryLookup lookup({.database = kLegacyV4, .database_v6 = kLegacyV6});
  EXPECT_EQ(lookup.description(), std::string(kLegacyV4) + ", " + kLegacyV6);
  EXPECT_EQ(lookup.error(), "");
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

TEST(CountryLookupTest, MaxMindDatabaseAnswersBothFamilies) {
  const TempDir dir;
  std::string why_not;
  const std::string mmdb = testing::WriteTestMmdb(dir.path(), why_not);
  if (mmdb.empty()) GTEST_SKIP() << why_not;
  const CountryLookup lookup({.mmdb = mmdb});
  EXPECT_EQ(lookup.description(), mmdb);
  EXPECT_EQ(lookup.error(), "");
  const Country fr = lookup.Lookup("192.0.2.77");
  EXPECT_EQ(fr.code, "FR");
  EXPECT_EQ(fr.name, "France");
  EXPECT_FALSE(fr.local);
  EXPECT_EQ(lookup.Lookup("198.51.100.255").code, "JP");
  EXPECT_EQ(lookup.Lookup("::ffff:192.0.2.1").code, "FR");  // IPv4-mapped
  const Country br = lookup.Lookup("2001:db8:1::5");
  EXPECT_EQ(br.code, "BR");
  EXPECT_EQ(br.name, "Brazil");
  // Not in the database: unknown, not local; private ranges never reach the database.
  const Country unknown = lookup.Lookup("203.0.113.9");
  EXPECT_EQ(unknown.code, "");
  EXPECT_FALSE(unknown.local);
  EXPECT_EQ(lookup.Lookup("2001:db9::1").code, "");
  EXPECT_TRUE(lookup.Lookup("10.0.0.1").local);
  EXPECT_THROW(lookup.Lookup("192.0.2"), std::invalid_argument);
}

TEST(CountryLookupTest, MaxMindDatabaseTakesPrecedenceOverGeoipDatabase) {
  if (!HaveLegacy()) GTEST_SKIP() << "geoip-database is not installed";
  const TempDir dir;
  std::string why_not;
  const std::string mmdb = testing::WriteTestMmdb(dir.path(), why_not);
  if (mmdb.empty()) GTEST_SKIP() << why_not;
  const CountryLookup legacy({.database = kLegacyV4, .database_v6 = kLegacyV6});
  ASSERT_EQ(legacy.Lookup("8.8.8.8").code, "US");
  const CountryLookup both({.mmdb = mmdb, .database = kLegacyV4, .database_v6 = kLegacyV6});
  EXPECT_EQ(both.description(), mmdb);
  EXPECT_EQ(both.error(), "");
  EXPECT_EQ(both.Lookup("8.8.8.8").code, "NZ");
  EXPECT_EQ(both.Lookup("8.8.8.8").name, "New Zealand");
  // The mmdb alone answers: what it does not know stays unknown.
  EXPECT_EQ(both.Lookup("193.99.144.80").code, "");
}

// A missing or corrupt .mmdb: the legacy databases answer, and error() says why.
TEST(CountryLookupTest, UnusableMaxMindDatabaseFallsBackToGeoipDatabase) {
  if (!HaveLegacy()) GTEST_SKIP() << "geoip-database is not installed";
  const TempDir dir;
  const std::string garbage = dir.path() + "/garbage.mmdb";
  std::ofstream(garbage) << "this is not a MaxMind database\n";
  std::vector<std::string> broken = {dir.path() + "/missing.mmdb", garbage};
  std::string why_not;
  const std::string mmdb = testing::WriteTestMmdb(dir.path(), why_not);
  if (!mmdb.empty()) {  // a real database cut in half: the metadata at its end is gone
    const std::string truncated = dir.path() + "/truncated.mmdb";
    std::filesystem::copy_file(mmdb, truncated);
    std::filesystem::resize_file(truncated, std::filesystem::file_size(mmdb) / 2);
    broken.push_back(truncated);
  }
  for (const std::string& bad : broken) {
    const CountryLookup lookup({.mmdb = bad, .database = kLegacyV4, .database_v6 = kLegacyV6});
    EXPECT_EQ(lookup.description(), std::string(kLegacyV4) + ", " + kLegacyV6) << bad;
    EXPECT_EQ(lookup.error().find("cannot open " + bad + ": "), 0u) << lookup.error();
    EXPECT_GT(lookup.error().size(), ("cannot open " + bad + ": ").size()) << "no reason given";
    EXPECT_EQ(lookup.Lookup("8.8.8.8").code, "US") << bad;
    EXPECT_EQ(lookup.Lookup("192.0.2.77").code, "") << bad;
  }
  const CountryLookup missing({.mmdb = broken[0], .database = kLegacyV4, .database_v6 = kLegacyV6});
  EXPECT_NE(missing.error().find("No such file or directory"), std::string::npos)
      << missing.error();
}

TEST(CountryLookupTest, MissingDatabasesAnswerUnknown) {
  const CountryLookup lookup({.mmdb = "/nonexistent/GeoLite2-Country.mmdb",
                              .database = "/nonexistent/GeoIP.dat",
                              .database_v6 = ""});
  EXPECT_EQ(lookup.description(), "");
  EXPECT_NE(lookup.error().find("/nonexistent/GeoLite2-Country.mmdb"), std::string::npos);
  EXPECT_NE(lookup.error().find("cannot open /nonexistent/GeoIP.dat"), std::string::npos);
  const Country c = lookup.Lookup("8.8.8.8");
  EXPECT_EQ(c.code, "");
  EXPECT_FALSE(c.local);
  EXPECT_TRUE(lookup.Lookup("10.0.0.1").local);
  const CountryLookup none({});
  EXPECT_EQ(none.description(), "");
  EXPECT_EQ(none.error(), "");
}

}  // namespace
}  // namespace netguard::geo
