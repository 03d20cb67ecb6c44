// Test fixture owning a freshly loaded EbpfDataPlane (timestamps from the packet) with its own
// pin root, plus helpers to run frames, read stats, flows and ring records.
#ifndef NETGUARD_TESTS_BPF_DATAPLANE_FIXTURE_H_
#define NETGUARD_TESTS_BPF_DATAPLANE_FIXTURE_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "capture/bpf_stats.h"
#include "capture/ebpf_dataplane.h"
#include "capture/flow_table.h"
#include "capture/ring_reader.h"
#include "netguard.h"

namespace netguard::testing {

using Frame = std::vector<uint8_t>;

/// One ring record, in ring order.
struct Record {
  uint16_t type = 0;          // enum ng_record_type
  ng_flow_event event{};      // NG_REC_FLOW_START / NG_REC_FLOW_END
  ng_packet_sample sample{};  // NG_REC_PACKET
};

/// The canonical key of a frame's flow, through the shared parser (fails the test on a frame
/// that does not parse to a flow).
ng_flow_key KeyOf(const Frame& frame);

/// Checks that `after - before` is exactly `expected` at the listed indexes and 0 elsewhere.
::testing::AssertionResult StatsDelta(const capture::StatCounters& before,
                                      const capture::StatCounters& after,
                                      const std::vector<std::pair<uint32_t, uint64_t>>& expected);

/// Index of the stats counter of parse error `err`.
constexpr uint32_t ParseErrorStat(ng_parse_error err) {
  return NG_STAT_PARSE_ERROR_FIRST + static_cast<uint32_t>(err);
}

/// The flow start/end records of `records`, in order.
std::vector<ng_flow_event> FlowEvents(const std::vector<Record>& records);
/// The packet samples of `records`, in order.
std::vector<ng_packet_sample> Samples(const std::vector<Record>& records);

/// ifindex the kernel reports for BPF_PROG_RUN packets (the loopback device).
uint32_t LoopbackIfindex();

class DataPlaneTest : public ::testing::Test {
 protected:
  /// Options every test starts from: packet timestamps, otherwise product defaults.
  static capture::DataPlaneOptions TestOptions();

  /// Picks this fixture's pin root. The data plane is loaded on first use (dp(), Xdp(), ...)
  /// with InitialOptions(), or explicitly with Load().
  void SetUp() override;
  void TearDown() override;

  /// Options of the data plane loaded on first use.
  virtual capture::DataPlaneOptions InitialOptions() const { return TestOptions(); }

  /// Replaces the data plane with a fresh one loaded with `options`. The pinned maps are removed
  /// first, so nothing carries over, unless keep_pins (a restarted agent). options.pin_root is
  /// overridden with this fixture's root.
  void Load(capture::DataPlaneOptions options, bool keep_pins = false);

  capture::EbpfDataPlane& dp();
  const std::string& pin_root() const { return pin_root_; }

  uint32_t Xdp(const Frame& frame, uint64_t ts_ns, uint32_t repeat = 1);
  uint32_t Tc(const Frame& frame, uint64_t ts_ns, uint32_t repeat = 1);

  capture::StatCounters Stats();
  std::optional<ng_flow> Flow(const ng_flow_key& key);
  std::vector<capture::FlowEntry> Flows();
  /// Every ring record written since the last call, in order.
  std::vector<Record> Drain();

 private:
  void Unload(bool keep_pins);

  std::string pin_root_;
  std::unique_ptr<capture::EbpfDataPlane> dp_;
  std::unique_ptr<capture::RingReader> ring_;
  std::vector<Record> records_;
};

}  // namespace netguard::testing

#endif  // NETGUARD_TESTS_BPF_DATAPLANE_FIXTURE_H_
