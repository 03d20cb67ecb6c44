// ngctl's subcommands, each against a connected Client. They print to stdout and return an exit
// code, or throw CommandError.
#ifndef NETGUARD_CTL_COMMANDS_H_
#define NETGUARD_CTL_COMMANDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "client.h"
#include "output.h"

namespace netguard::ctl {

/// `ngctl alerts`: filters are ANDed; src/dst compare one side exactly.
struct AlertsOptions {
  std::optional<int64_t> since_ns;
  std::string alert_class;
  std::string src;
  std::string dst;
  v1::Severity min_severity = v1::SEVERITY_UNSPECIFIED;
  uint32_t limit = 100;
  bool follow = false;
};

/// `ngctl flows`.
struct FlowsOptions {
  std::optional<int64_t> since_ns;
  std::string address;
  uint32_t port = 0;
  std::string protocol;
  uint32_t limit = 100;
  bool follow = false;
};

/// How many times a --follow stream reconnects in a row before ngctl gives up.
inline constexpr int kMaxReconnects = 5;

/// Prints the agent's status.
int RunStatus(Client& client, Format format);
/// Prints the newest `limit` matching alerts, oldest first; with `follow`, then streams new
/// ones, resuming after the last id seen when the stream breaks.
int RunAlerts(Client& client, Format format, const AlertsOptions& options);
/// As RunAlerts for finished flows.
int RunFlows(Client& client, Format format, const FlowsOptions& options);
/// Blocks `prefix` (ttl 0: until unblocked) and prints the entry.
int RunBlock(Client& client, Format format, const std::string& prefix, uint32_t ttl_seconds,
             const std::string& reason);
/// Removes the block of `prefix`.
int RunUnblock(Client& client, Format format, const std::string& prefix);
/// Every block with its live drop counters.
int RunBlocks(Client& client, Format format);
/// Acknowledges alert `id`, records `feedback` when given, prints the alert.
int RunAck(Client& client, Format format, int64_t id, std::optional<v1::Feedback> feedback);
/// One address: reputation score and verdict, alert count, block state, and its `limit` most
/// recent alerts and flows (ctl/ip_command.cpp).
int RunIp(Client& client, Format format, const std::string& address, uint32_t limit);
/// The country of each address from the agent's GeoIP database (countries.cpp).
int RunCountries(Client& client, Format format, const std::vector<std::string>& addresses);

}  // namespace netguard::ctl

#endif  // NETGUARD_CTL_COMMANDS_H_
