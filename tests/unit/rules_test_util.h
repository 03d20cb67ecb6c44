// Synthetic flows and samples for the rules engine's tests.
#ifndef NETGUARD_TESTS_UNIT_RULES_TEST_UTIL_H_
#define NETGUARD_TESTS_UNIT_RULES_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/flow_record.h"
#include "core/packet_sample.h"
#include "detect/detector.h"

namespace netguard::testing {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kT0 = 1'700'000'000 * kSecond;

/// Keeps every alert.
struct Alerts final : detect::AlertSink {
  std::vector<Alert> all;
  void Emit(Alert alert) override { all.push_back(std::move(alert)); }
  /// Alerts raised by rule `name`.
  std::vector<Alert> Of(const std::string& name) const;
};

/// A flow from `src`:`sport` to `dst`:`dport` (dotted IPv4), started at `start_ns` by the source
/// with TCP flags `flags`. `fwd`/`bwd` packets, with `fwd_payload` bytes from the source.
FlowRecord Flow(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport,
                uint8_t proto, int64_t start_ns, uint8_t flags = NG_TCP_SYN, uint32_t fwd = 1,
                uint32_t bwd = 0, uint32_t fwd_payload = 0, int64_t duration_ns = 0);

/// A sampled UDP/TCP/ICMP packet from `src` to `dst` (ICMP: an echo request).
PacketSample Packet(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport,
                    uint8_t proto, int64_t time_ns, uint32_t wire_len,
                    uint8_t reason = NG_SAMPLE_FIRST_N);

/// A sampled DNS query for `name` of type `qtype` from `src` to the resolver `dst`.
PacketSample DnsQuery(const std::string& src, const std::string& dst, const std::string& name,
                      uint16_t qtype, int64_t time_ns);

/// A sampled ARP packet (op 1 request, 2 reply) claiming `sender_ip` is at `mac`.
PacketSample Arp(const std::string& sender_ip, const std::string& target_ip, uint8_t mac_last,
                 uint16_t op, int64_t time_ns);

}  // namespace netguard::testing

#endif  // NETGUARD_TESTS_UNIT_RULES_TEST_UTIL_H_
