// What the rules end-to-end tests share: netguardd (eBPF) on the sensor's veth with a rules file
// (the shipped packaging/rules.yaml unless a test says why not), tools run in the peer namespace
// (bounded in time), hand-made ARP frames from the peer's interface, and the stored alerts by
// detector.
#ifndef NETGUARD_TESTS_E2E_RULES_E2E_FIXTURE_H_
#define NETGUARD_TESTS_E2E_RULES_E2E_FIXTURE_H_

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon_fixture.h"

namespace netguard::e2e {

inline constexpr milliseconds kAlertVisible{15000};
/// Bound of every flood (each hping3 process of one is stopped by SIGINT after it).
inline constexpr int kFloodSeconds = 6;  // well inside the flood rules' 10 s windows

/// The shipped rules file (packaging/rules.yaml): every built-in rule at its default.
std::string ShippedRules();

class RulesE2eFixture : public DaemonE2eTest {
 protected:
  using DaemonE2eTest::DaemonE2eTest;

  /// Writes `yaml` to rules_ (state_/rules.yaml, the file netguard.yaml names).
  void WriteRules(const std::string& yaml) const;

  /// A flood from the peer namespace at the sensor: `processes` hping3 at once, each sending
  /// `count` packets (`args`, e.g. --udp -p 9999 -k) 10 us apart and stopped by SIGINT after
  /// kFloodSeconds if not done (their output in state_/flood-N.log). Packets sent in all.
  long Flood(const std::vector<std::string>& args, int processes, int count) const;

  /// An HTTP GET from `source_ip` to `host`:`port`, bounded to 5 s; curl's exit status.
  int Curl(const std::string& source_ip, const std::string& host, uint16_t port) const;

  /// `count` ARP frames (op 1 request, 2 reply) broadcast from the peer's interface, `gap` apart,
  /// saying that `sender_ip` is at `mac`, for `target_ip`.
  void SendArp(const std::array<uint8_t, 6>& mac, const std::string& sender_ip,
               const std::string& target_ip, uint16_t op, int count, milliseconds gap) const;

  /// Every stored alert, by detector.
  std::multimap<std::string, nlohmann::json> AlertsByDetector() const;

  /// Waits (kAlertVisible) for an alert of each detector of `expected` from `source`, then
  /// expects its technique (detector -> technique); returns every alert stored by then.
  std::multimap<std::string, nlohmann::json> ExpectAlertsFrom(
      const std::string& source, const std::map<std::string, std::string>& expected) const;

  std::string rules_;  // set by the derived SetUp
};

}  // namespace netguard::e2e

#endif  // NETGUARD_TESTS_E2E_RULES_E2E_FIXTURE_H_
