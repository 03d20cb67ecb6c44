#include "geo/country_lookup.h"

#include <GeoIP.h>
#include <arpa/inet.h>
#include <maxminddb.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace netguard::geo {
namespace {

bool LocalV4(uint32_t a) {  // host byte order
  const auto in = [a](uint32_t net, int bits) {
    return (a >> (32 - bits)) == (net >> (32 - bits));
  };
  return in(0x0A000000, 8) || in(0xAC100000, 12) || in(0xC0A80000, 16) || in(0x7F000000, 8) ||
         in(0xA9FE0000, 16) || in(0x64400000, 10) || in(0x00000000, 8) || in(0xE0000000, 4) ||
         a == 0xFFFFFFFF;  // multicast, broadcast
}

std::string MmdbString(MMDB_entry_s* entry, const char* const* path) {
  MMDB_entry_data_s data{};
  if (MMDB_aget_value(entry, &data, path) != MMDB_SUCCESS || !data.has_data ||
      data.type != MMDB_DATA_TYPE_UTF8_STRING) {
    return "";
  }
  return std::string(data.utf8_string, data.data_size);
}

}  // namespace

struct CountryLookup::Handles {
  MMDB_s mmdb{};
  bool mmdb_open = false;
  GeoIP* v4 = nullptr;
  GeoIP* v6 = nullptr;
};

bool IsIpAddress(const std::string& address) {
  in6_addr any{};
  return inet_pton(AF_INET, address.c_str(), &any) == 1 ||
         inet_pton(AF_INET6, address.c_str(), &any) == 1;
}

bool IsLocalAddress(const std::string& address) {
  in_addr v4{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) return LocalV4(ntohl(v4.s_addr));
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    uint32_t a = 0;
    std::memcpy(&a, &v6.s6_addr[12], 4);
    return LocalV4(ntohl(a));
  }
  return IN6_IS_ADDR_LOOPBACK(&v6) || IN6_IS_ADDR_UNSPECIFIED(&v6) || IN6_IS_ADDR_LINKLOCAL(&v6) ||
         (v6.s6_addr[0] & 0xfe) == 0xfc || v6.s6_addr[0] == 0xff;  // ULA, multicast
}

CountryLookup::CountryLookup(const GeoDatabases& databases)
    : handles_(std::make_unique<Handles>()) {
  const auto fail = [this](const std::string& why) {
    error_ += (error_.empty() ? "" : "; ") + why;
  };
  if (!databases.mmdb.empty()) {
    const int rc = MMDB_open(databases.mmdb.c_str(), MMDB_MODE_MMAP, &handles_->mmdb);
    const int open_errno = errno;
    if (rc == MMDB_SUCCESS) {
      handles_->mmdb_open = true;
      description_ = databases.mmdb;
      return;
    }
    std::string why = MMDB_strerror(rc);
    if (rc == MMDB_FILE_OPEN_ERROR || rc == MMDB_IO_ERROR) {
      why += std::string(" (") + std::strerror(open_errno) + ")";
    }
    fail("cannot open " + databases.mmdb + ": " + why);
  }
  const auto open = [&](const std::string& path) -> GeoIP* {
    if (path.empty()) return nullptr;
    GeoIP* db = GeoIP_open(path.c_str(), GEOIP_MEMORY_CACHE | GEOIP_SILENCE);
    if (!db) fail("cannot open " + path);
    if (db) description_ += (description_.empty() ? "" : ", ") + path;
    return db;
  };
  handles_->v4 = open(databases.database);
  handles_->v6 = open(databases.database_v6);
  if (!error_.empty()) {
    spdlog::warn("GeoIP: {}; {}", error_,
                 description_.empty() ? "countries unknown" : "using " + description_);
  }
}

CountryLookup::~CountryLookup() {
  if (handles_->mmdb_open) MMDB_close(&handles_->mmdb);
  if (handles_->v4) GeoIP_delete(handles_->v4);
  if (handles_->v6) GeoIP_delete(handles_->v6);
}

Country CountryLookup::Lookup(const std::string& address) const {
  in_addr v4{};
  in6_addr v6{};
  const bool is_v4 = inet_pton(AF_INET, address.c_str(), &v4) == 1;
  if (!is_v4 && inet_pton(AF_INET6, address.c_str(), &v6) != 1) {
    throw std::invalid_argument("'" + address + "' is not an IP address");
  }
  if (IsLocalAddress(address)) return {.code = "", .name = "local", .local = true};
  Country out;
  if (handles_->mmdb_open) {
    int gai_error = 0;
    int mmdb_error = MMDB_SUCCESS;
    MMDB_lookup_result_s result =
        MMDB_lookup_string(&handles_->mmdb, address.c_str(), &gai_error, &mmdb_error);
    if (gai_error == 0 && mmdb_error == MMDB_SUCCESS && result.found_entry) {
      static const char* const kCode[] = {"country", "iso_code", nullptr};
      static const char* const kName[] = {"country", "names", "en", nullptr};
      out.code = MmdbString(&result.entry, kCode);
      out.name = MmdbString(&result.entry, kName);
    }
    return out;
  }
  std::lock_guard lock(mutex_);
  const int id = is_v4 ? (handles_->v4 ? GeoIP_id_by_addr(handles_->v4, address.c_str()) : 0)
                       : (handles_->v6 ? GeoIP_id_by_addr_v6(handles_->v6, address.c_str()) : 0);
  if (id > 0) {
    out.code = GeoIP_code_by_id(id);
    out.name = GeoIP_name_by_id(id);
    if (out.code == "--") out = {};
  }
  return out;
}

}  // namespace netguard::geo
