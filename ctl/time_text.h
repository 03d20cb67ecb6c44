// Time as ngctl reads and prints it: durations ("90s", "1h30m"), RFC 3339 timestamps.
#ifndef NETGUARD_CTL_TIME_TEXT_H_
#define NETGUARD_CTL_TIME_TEXT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace netguard::ctl {

/// Parses a duration: one or more <integer><unit> with units ms, s, m, h, d (e.g. "30s",
/// "1h30m", "7d"); a bare integer is seconds. Returns nanoseconds, nullopt when malformed or
/// not positive.
std::optional<int64_t> ParseDurationNs(std::string_view text);

/// Parses RFC 3339, e.g. "2024-05-01T12:00:00Z", "2024-05-01T14:00:00.5+02:00" (a space
/// instead of 'T' is accepted). Returns ns since the epoch; nullopt when malformed.
std::optional<int64_t> ParseRfc3339Ns(std::string_view text);

/// A --since value: a duration means that long before `now_ns`, else an RFC 3339 time.
std::optional<int64_t> ParseSinceNs(std::string_view text, int64_t now_ns);

/// "2024-05-01T12:00:00Z" (UTC, whole seconds).
std::string FormatTime(int64_t ns);
/// A short human duration: "45s", "3m20s", "2h05m", "3d04h".
std::string FormatDuration(int64_t ns);

/// Wall clock, ns since the epoch.
int64_t NowNs();

}  // namespace netguard::ctl

#endif  // NETGUARD_CTL_TIME_TEXT_H_
