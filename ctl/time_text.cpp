#include "time_text.h"

#include <time.h>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <limits>

namespace netguard::ctl {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;

// Reads exactly `digits` decimal digits at text[pos]; advances pos.
std::optional<int> Digits(std::string_view text, size_t& pos, size_t digits) {
  if (pos + digits > text.size()) return std::nullopt;
  int value = 0;
  for (size_t i = 0; i < digits; ++i) {
    const char c = text[pos + i];
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += digits;
  return value;
}

bool Expect(std::string_view text, size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

std::optional<int64_t> ParseDurationNs(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t bare = 0;
  const auto [bare_end, bare_ec] = std::from_chars(text.data(), text.data() + text.size(), bare);
  if (bare_ec == std::errc() && bare_end == text.data() + text.size()) {
    if (bare <= 0 || bare > std::numeric_limits<int64_t>::max() / kNsPerSecond) return std::nullopt;
    return bare * kNsPerSecond;
  }
  int64_t total = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), value);
    if (ec != std::errc() || value < 0) return std::nullopt;
    pos = static_cast<size_t>(end - text.data());
    int64_t unit = 0;
    if (text.substr(pos, 2) == "ms") {
      unit = 1'000'000;
      pos += 2;
    } else if (pos < text.size()) {
      switch (text[pos]) {
        case 's':
          unit = kNsPerSecond;
          break;
        case 'm':
          unit = 60 * kNsPerSecond;
          break;
        case 'h':
          unit = 3600 * kNsPerSecond;
          break;
        case 'd':
          unit = 86400 * kNsPerSecond;
          break;
        default:
          return std::nullopt;
      }
      ++pos;
    } else {
      return std::nullopt;  // "1h30": a number without its unit
    }
    if (value > (std::numeric_limits<int64_t>::max() - total) / unit) return std::nullopt;
    total += value * unit;
  }
  if (total <= 0) return std::nullopt;
  return total;
}

std::optional<int64_t> ParseRfc3339Ns(std::string_view text) {
  size_t pos = 0;
  tm t{};
  const auto year = Digits(text, pos, 4);
  if (!year || !Expect(text, pos, '-')) return std::nullopt;
  const auto month = Digits(text, pos, 2);
  if (!month || !Expect(text, pos, '-')) return std::nullopt;
  const auto day = Digits(text, pos, 2);
  if (!day) return std::nullopt;
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ')) {
    return std::nullopt;
  }
  ++pos;
  const auto hour = Digits(text, pos, 2);
  if (!hour || !Expect(text, pos, ':')) return std::nullopt;
  const auto minute = Digits(text, pos, 2);
  if (!minute || !Expect(text, pos, ':')) return std::nullopt;
  const auto second = Digits(text, pos, 2);
  if (!second) return std::nullopt;
  if (*month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 ||
      *second > 60) {
    return std::nullopt;
  }
  int64_t fraction_ns = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int64_t scale = 100'000'000;
    const size_t start = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      fraction_ns += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  int64_t offset_s = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    const auto oh = Digits(text, pos, 2);
    if (!oh || !Expect(text, pos, ':')) return std::nullopt;
    const auto om = Digits(text, pos, 2);
    if (!om || *oh > 23 || *om > 59) return std::nullopt;
    offset_s = sign * (*oh * 3600 + *om * 60);
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  t.tm_year = *year - 1900;
  t.tm_mon = *month - 1;
  t.tm_mday = *day;
  t.tm_hour = *hour;
  t.tm_min = *minute;
  t.tm_sec = *second;
  const time_t seconds = timegm(&t);
  return (static_cast<int64_t>(seconds) - offset_s) * kNsPerSecond + fraction_ns;
}

std::optional<int64_t> ParseSinceNs(std::string_view text, int64_t now_ns) {
  if (std::optional<int64_t> ago = ParseDurationNs(text)) return now_ns - *ago;
  return ParseRfc3339Ns(text);
}

std::string FormatTime(int64_t ns) {
  time_t seconds = static_cast<time_t>(ns / kNsPerSecond);
  if (ns < 0 && ns % kNsPerSecond != 0) --seconds;
  tm t{};
  gmtime_r(&seconds, &t);
  char buf[80];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", t.tm_year + 1900, t.tm_mon + 1,
                t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
  return buf;
}

std::string FormatDuration(int64_t ns) {
  if (ns < 0) ns = 0;
  const int64_t s = ns / kNsPerSecond;
  char buf[48];
  if (ns < kNsPerSecond) {
    std::snprintf(buf, sizeof(buf), "%lldms", static_cast<long long>(ns / 1'000'000));
  } else if (s < 60) {
    std::snprintf(buf, sizeof(buf), "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof(buf), "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof(buf), "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  }
  return buf;
}

int64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSecond + ts.tv_nsec;
}

}  // namespace netguard::ctl
