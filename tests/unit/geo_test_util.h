// A small MaxMind .mmdb written at test time by make_test_mmdb.pl (libmaxmind-db-writer-perl):
// 192.0.2.0/24 FR France, 198.51.100.0/24 JP Japan, 8.8.8.0/24 NZ New Zealand (Debian's
// GeoIP.dat says US), 2001:db8::/32 BR Brazil; nothing else.
#ifndef NETGUARD_TESTS_UNIT_GEO_TEST_UTIL_H_
#define NETGUARD_TESTS_UNIT_GEO_TEST_UTIL_H_

#include <cstdlib>
#include <filesystem>
#include <string>

namespace netguard::testing {

inline constexpr char kLegacyV4[] = "/usr/share/GeoIP/GeoIP.dat";
inline constexpr char kLegacyV6[] = "/usr/share/GeoIP/GeoIPv6.dat";

/// Writes the test database to `dir`/test-country.mmdb and returns its path; "" with the reason
/// in `why_not` when the writer is not installed or fails.
inline std::string WriteTestMmdb(const std::string& dir, std::string& why_not) {
  if (std::system("perl -MMaxMind::DB::Writer::Tree -e 1 >/dev/null 2>&1") != 0) {
    why_not =
        "perl's MaxMind::DB::Writer is not installed (apt install libmaxmind-db-writer-perl;"
        " scripts/install-deps.sh does)";
    return "";
  }
  const std::string path = dir + "/test-country.mmdb";
  const std::string command =
      "perl " NETGUARD_SOURCE_DIR "/tests/unit/make_test_mmdb.pl '" + path + "'";
  if (std::system(command.c_str()) != 0 || !std::filesystem::exists(path)) {
    why_not = "make_test_mmdb.pl failed: " + command;
    return "";
  }
  return path;
}

}  // namespace netguard::testing

#endif  // NETGUARD_TESTS_UNIT_GEO_TEST_UTIL_H_
