// A TCP conversation with hand-computed accumulators, run through the shared update rule in
// user space (tests/unit/parse_test.cpp) and through the loaded XDP/TC programs
// (tests/bpf/flow_accounting_test.cpp): both must produce exactly the struct ng_flow below.
#ifndef NETGUARD_TESTS_UNIT_FLOW_SCENARIO_H_
#define NETGUARD_TESTS_UNIT_FLOW_SCENARIO_H_

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "netguard.h"
#include "support/packet_builder.h"

namespace netguard::testing {

/// Running statistics of `values`, computed here independently of ng_running_add().
inline ng_running Running(std::initializer_list<__s64> values) {
  ng_running r{};
  for (__s64 v : values) {
    r.min = r.count == 0 ? v : std::min(r.min, v);
    r.max = r.count == 0 ? v : std::max(r.max, v);
    ++r.count;
    r.sum += v;
    r.sum_sq += static_cast<uint64_t>(v * v);
  }
  return r;
}

/// Packets of a flow in both directions.
inline uint64_t PacketCount(const ng_flow& f) {
  return f.dir[NG_DIR_FWD].payload.count + f.dir[NG_DIR_BWD].payload.count;
}

/// A canonical key written out by hand: side A is (a, a_port), side B (b, b_port).
inline ng_flow_key HandKey(const std::string& a, uint16_t a_port, const std::string& b,
                           uint16_t b_port, uint8_t proto, uint16_t vlan_id = 0) {
  ng_flow_key key{};
  const bool v6 = a.find(':') != std::string::npos;
  const int af = v6 ? AF_INET6 : AF_INET;
  EXPECT_EQ(inet_pton(af, a.c_str(), key.addr_a), 1) << a;
  EXPECT_EQ(inet_pton(af, b.c_str(), key.addr_b), 1) << b;
  key.port_a = a_port;
  key.port_b = b_port;
  key.vlan_id = vlan_id;
  key.family = v6 ? NG_FAMILY_IPV6 : NG_FAMILY_IPV4;
  key.proto = proto;
  return key;
}

inline bool SameKey(const ng_flow_key& x, const ng_flow_key& y) {
  return std::memcmp(&x, &y, sizeof(x)) == 0;
}

/// "[vlan 0] 6 10.0.0.2:80 <-> 10.0.0.9:40000", for failure messages.
inline std::string KeyString(const ng_flow_key& key) {
  const int af = key.family == NG_FAMILY_IPV6 ? AF_INET6 : AF_INET;
  char a[INET6_ADDRSTRLEN] = {};
  char b[INET6_ADDRSTRLEN] = {};
  inet_ntop(af, key.addr_a, a, sizeof(a));
  inet_ntop(af, key.addr_b, b, sizeof(b));
  return "[vlan " + std::to_string(key.vlan_id) + "] family " + std::to_string(key.family) +
         " proto " + std::to_string(key.proto) + " " + a + ":" + std::to_string(key.port_a) +
         " <-> " + b + ":" + std::to_string(key.port_b);
}

inline void ExpectRunningEq(const ng_running& actual, const ng_running& expected,
                            const std::string& what) {
  EXPECT_EQ(actual.count, expected.count) << what << ".count";
  EXPECT_EQ(actual.sum, expected.sum) << what << ".sum";
  EXPECT_EQ(actual.sum_sq, expected.sum_sq) << what << ".sum_sq";
  if (expected.count > 0) {
    EXPECT_EQ(actual.min, expected.min) << what << ".min";
    EXPECT_EQ(actual.max, expected.max) << what << ".max";
  }
}

/// Compares every field of two flows, naming the field that differs.
inline void ExpectFlowEq(const ng_flow& actual, const ng_flow& expected) {
  for (int d = 0; d < NG_DIR_COUNT; ++d) {
    const std::string dir = d == NG_DIR_FWD ? "dir[FWD]" : "dir[BWD]";
    const ng_dir_stats& a = actual.dir[d];
    const ng_dir_stats& e = expected.dir[d];
    ExpectRunningEq(a.payload, e.payload, dir + ".payload");
    ExpectRunningEq(a.iat, e.iat, dir + ".iat");
    EXPECT_EQ(a.wire_bytes, e.wire_bytes) << dir << ".wire_bytes";
    EXPECT_EQ(a.l3_hdr_bytes, e.l3_hdr_bytes) << dir << ".l3_hdr_bytes";
    EXPECT_EQ(a.l4_hdr_bytes, e.l4_hdr_bytes) << dir << ".l4_hdr_bytes";
    EXPECT_EQ(a.last_us, e.last_us) << dir << ".last_us";
    for (int bit = 0; bit < NG_TCP_FLAG_BITS; ++bit) {
      EXPECT_EQ(a.flag_counts[bit], e.flag_counts[bit]) << dir << ".flag_counts[" << bit << "]";
    }
    EXPECT_EQ(a.data_pkts, e.data_pkts) << dir << ".data_pkts";
    EXPECT_EQ(a.l4_hdr_min, e.l4_hdr_min) << dir << ".l4_hdr_min";
    EXPECT_EQ(a.init_win, e.init_win) << dir << ".init_win";
    EXPECT_EQ(a.last_win, e.last_win) << dir << ".last_win";
  }
  ExpectRunningEq(actual.iat, expected.iat, "iat");
  ExpectRunningEq(actual.active, expected.active, "active");
  ExpectRunningEq(actual.idle, expected.idle, "idle");
  EXPECT_EQ(actual.first_ts_ns, expected.first_ts_ns) << "first_ts_ns";
  EXPECT_EQ(actual.last_ts_ns, expected.last_ts_ns) << "last_ts_ns";
  EXPECT_EQ(actual.active_start_us, expected.active_start_us) << "active_start_us";
  EXPECT_EQ(actual.first_payload_len, expected.first_payload_len) << "first_payload_len";
  EXPECT_EQ(int{actual.initiator}, int{expected.initiator}) << "initiator";
  EXPECT_EQ(int{actual.first_tcp_flags}, int{expected.first_tcp_flags}) << "first_tcp_flags";
  EXPECT_EQ(int{actual.state}, int{expected.state}) << "state";
}

struct ScenarioPacket {
  uint64_t ts_ns;
  bool from_client;  // client -> server (forward); the server answers backward
  std::vector<uint8_t> frame;
};

/// The conversation: client 10.0.0.9:40000 -> server 10.0.0.2:80. The server's address is the
/// smaller one, so the server is side A and the initiator is side B. Two gaps longer than the
/// 5 s activity timeout split it into three active periods.
namespace tcp_scenario {

inline constexpr char kClient[] = "10.0.0.9";
inline constexpr char kServer[] = "10.0.0.2";
inline constexpr uint16_t kClientPort = 40000;
inline constexpr uint16_t kServerPort = 80;

inline std::vector<uint8_t> C2S(uint8_t flags, uint16_t window, size_t options, size_t payload) {
  return PacketBuilder()
      .Ip(kClient, kServer)
      .Tcp(kClientPort, kServerPort, flags, window, options)
      .Payload(payload)
      .Build();
}

inline std::vector<uint8_t> S2C(uint8_t flags, uint16_t window, size_t options, size_t payload) {
  return PacketBuilder()
      .Ip(kServer, kClient)
      .Tcp(kServerPort, kClientPort, flags, window, options)
      .Payload(payload)
      .Build();
}

inline ng_flow_key Key() { return HandKey(kServer, kServerPort, kClient, kClientPort, 6); }

inline std::vector<ScenarioPacket> Packets() {
  constexpr uint8_t kSyn = NG_TCP_SYN, kAck = NG_TCP_ACK, kPsh = NG_TCP_PSH;
  constexpr uint8_t kUrg = NG_TCP_URG, kEce = NG_TCP_ECE, kCwr = NG_TCP_CWR;
  return {
      // {ts (ns), from the client, frame (flags, window, option bytes, payload)}  // ts (us)
      {1'000'000'500, true, C2S(kSyn, 64240, 12, 0)},                     // 1'000'000
      {1'000'200'900, false, S2C(kSyn | kAck, 65160, 12, 0)},             // 1'000'200
      {1'000'300'000, true, C2S(kAck, 502, 0, 0)},                        // 1'000'300
      {1'001'000'999, true, C2S(kPsh | kAck, 502, 0, 100)},               // 1'001'000
      {1'002'500'001, false, S2C(kPsh | kAck, 509, 0, 1000)},             // 1'002'500
      {8'000'000'000, true, C2S(kPsh | kAck, 501, 0, 50)},                // 8'000'000
      {8'000'001'000, false, S2C(kAck | kUrg | kEce | kCwr, 509, 0, 0)},  // 8'000'001
      {14'000'000'000, true, C2S(kAck, 500, 8, 10)},                      // 14'000'000
      {14'000'000'200, false, S2C(kAck, 509, 0, 7)},                      // 14'000'000
  };
}

/// The accumulators after all of Packets(), worked out by hand.
inline ng_flow Expected() {
  ng_flow f{};
  ng_dir_stats& fwd = f.dir[NG_DIR_FWD];  // packets 1, 3, 4, 6, 8
  fwd.payload = Running({0, 0, 100, 50, 10});
  fwd.iat = Running({300, 700, 6'999'000, 6'000'000});
  fwd.wire_bytes = 66 + 54 + 154 + 104 + 72;
  fwd.l3_hdr_bytes = 5 * 20;
  fwd.l4_hdr_bytes = 32 + 20 + 20 + 20 + 28;
  fwd.last_us = 14'000'000;
  fwd.flag_counts[1] = 1;  // SYN
  fwd.flag_counts[3] = 2;  // PSH
  fwd.flag_counts[4] = 4;  // ACK
  fwd.data_pkts = 3;
  fwd.l4_hdr_min = 20;
  fwd.init_win = 64240;
  fwd.last_win = 500;

  ng_dir_stats& bwd = f.dir[NG_DIR_BWD];  // packets 2, 5, 7, 9
  bwd.payload = Running({0, 1000, 0, 7});
  bwd.iat = Running({2'300, 6'997'501, 5'999'999});
  bwd.wire_bytes = 66 + 1054 + 54 + 61;
  bwd.l3_hdr_bytes = 4 * 20;
  bwd.l4_hdr_bytes = 32 + 20 + 20 + 20;
  bwd.last_us = 14'000'000;
  bwd.flag_counts[1] = 1;  // SYN
  bwd.flag_counts[3] = 1;  // PSH
  bwd.flag_counts[4] = 4;  // ACK
  bwd.flag_counts[5] = 1;  // URG
  bwd.flag_counts[6] = 1;  // ECE
  bwd.flag_counts[7] = 1;  // CWR
  bwd.data_pkts = 2;
  bwd.l4_hdr_min = 20;
  bwd.init_win = 65160;
  bwd.last_win = 509;

  f.iat = Running({200, 100, 700, 1'500, 6'997'500, 1, 5'999'999, 0});
  f.active = Running({2'500, 1});  // 1'000'000..1'002'500 and 8'000'000..8'000'001
  f.idle = Running({6'997'500, 5'999'999});
  f.first_ts_ns = 1'000'000'500;
  f.last_ts_ns = 14'000'000'200;
  f.active_start_us = 14'000'000;
  f.first_payload_len = 0;
  f.initiator = NG_SIDE_B;
  f.first_tcp_flags = NG_TCP_SYN;
  f.state = NG_FLOW_ACTIVE;
  return f;
}

}  // namespace tcp_scenario
}  // namespace netguard::testing

#endif  // NETGUARD_TESTS_UNIT_FLOW_SCENARIO_H_
