#include "bpf/dataplane_fixture.h"

#include <net/if.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "bpf/prog_runner.h"
#include "flow_update.h"

namespace netguard::testing {
namespace {

std::atomic<int> g_fixture_counter{0};

}  // namespace

ng_flow_key KeyOf(const Frame& frame) {
  ng_cursor cur{frame.data(), frame.data() + frame.size()};
  ng_pkt pkt{};
  ng_flow_key key{};
  if (ng_parse_l3(&cur, static_cast<uint32_t>(frame.size()), &pkt) != NG_L3_IP ||
      ng_parse_l4(&cur, &pkt) != NG_L4_FLOW) {
    ADD_FAILURE() << "frame does not parse to a flow (error " << int{pkt.error} << ")";
    return key;
  }
  ng_flow_key_make(&pkt, &key);
  return key;
}

::testing::AssertionResult StatsDelta(const capture::StatCounters& before,
                                      const capture::StatCounters& after,
                                      const std::vector<std::pair<uint32_t, uint64_t>>& expected) {
  std::ostringstream diff;
  bool ok = true;
  for (uint32_t stat = 0; stat < NG_STAT_COUNT; ++stat) {
    uint64_t want = 0;
    for (const auto& [index, delta] : expected) {
      if (index == stat) want += delta;
    }
    const uint64_t got = after[stat] - before[stat];
    if (got != want) {
      ok = false;
      diff << "\n  " << capture::StatName(stat) << ": +" << got << ", expected +" << want;
    }
  }
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "stats differ:" << diff.str();
}

std::vector<ng_flow_event> FlowEvents(const std::vector<Record>& records) {
  std::vector<ng_flow_event> out;
  for (const Record& r : records) {
    if (r.type != NG_REC_PACKET) out.push_back(r.event);
  }
  return out;
}

std::vector<ng_packet_sample> Samples(const std::vector<Record>& records) {
  std::vector<ng_packet_sample> out;
  for (const Record& r : records) {
    if (r.type == NG_REC_PACKET) out.push_back(r.sample);
  }
  return out;
}

uint32_t LoopbackIfindex() { return if_nametoindex("lo"); }

capture::DataPlaneOptions DataPlaneTest::TestOptions() {
  capture::DataPlaneOptions options;
  options.timestamps_from_packet = true;
  return options;
}

void DataPlaneTest::SetUp() {
  spdlog::set_level(spdlog::level::warn);
  pin_root_ = "/sys/fs/bpf/ngtest-" + std::to_string(getpid()) + "-" +
              std::to_string(g_fixture_counter.fetch_add(1));
}

capture::EbpfDataPlane& DataPlaneTest::dp() {
  if (!dp_) Load(InitialOptions());
  return *dp_;
}

void DataPlaneTest::TearDown() { Unload(/*keep_pins=*/false); }

void DataPlaneTest::Unload(bool keep_pins) {
  ring_.reset();
  dp_.reset();
  records_.clear();
  if (keep_pins) return;
  std::error_code ec;
  std::filesystem::remove_all(pin_root_, ec);
  EXPECT_FALSE(ec) << "remove " << pin_root_ << ": " << ec.message();
}

void DataPlaneTest::Load(capture::DataPlaneOptions options, bool keep_pins) {
  Unload(keep_pins);
  options.pin_root = pin_root_;
  dp_ = std::make_unique<capture::EbpfDataPlane>(std::move(options));
  ring_ = std::make_unique<capture::RingReader>(
      dp_->events_fd(),
      capture::RingHandlers{
          .on_flow_start =
              [this](const ng_flow_event& ev) {
                records_.push_back({.type = NG_REC_FLOW_START, .event = ev, .sample = {}});
              },
          .on_flow_end =
              [this](const ng_flow_event& ev) {
                records_.push_back({.type = NG_REC_FLOW_END, .event = ev, .sample = {}});
              },
          .on_sample =
              [this](const ng_packet_sample& s) {
                records_.push_back({.type = NG_REC_PACKET, .event = {}, .sample = s});
              },
      });
}

uint32_t DataPlaneTest::Xdp(const Frame& frame, uint64_t ts_ns, uint32_t repeat) {
  return RunXdp(dp().xdp_prog_fd(), frame, ts_ns, repeat);
}

uint32_t DataPlaneTest::Tc(const Frame& frame, uint64_t ts_ns, uint32_t repeat) {
  return RunTc(dp().tc_prog_fd(), frame, ts_ns, repeat);
}

capture::StatCounters DataPlaneTest::Stats() { return capture::ReadStats(dp().stats_fd()); }

std::optional<ng_flow> DataPlaneTest::Flow(const ng_flow_key& key) {
  return capture::FlowTable(dp().flows_fd()).Lookup(key);
}

std::vector<capture::FlowEntry> DataPlaneTest::Flows() {
  return capture::FlowTable(dp().flows_fd()).Snapshot();
}

std::vector<Record> DataPlaneTest::Drain() {
  dp();
  ring_->Drain();
  EXPECT_EQ(ring_->malformed(), 0u);
  return std::exchange(records_, {});
}

}  // namespace netguard::testing
