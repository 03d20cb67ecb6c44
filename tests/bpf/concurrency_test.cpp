// One flow updated from two CPUs at once: the striped spin locks must not lose an update.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sched.h>

#include <atomic>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "bpf/dataplane_fixture.h"
#include "bpf/prog_runner.h"
#include "support/packet_builder.h"
#include "unit/flow_scenario.h"

namespace netguard::testing {
namespace {

constexpr uint32_t kCalls = 20;      // BPF_PROG_RUN calls per thread
constexpr uint32_t kRepeat = 10000;  // runs per call
constexpr uint64_t kPerThread = uint64_t{kCalls} * kRepeat;

// Starts a thread pinned to `cpu` that waits for its partner, then runs `body`; a failure is
// left in `error`.
std::thread Pinned(int cpu, std::atomic<int>& ready, std::string& error,
                   std::function<void()> body) {
  return std::thread([cpu, &ready, &error, body = std::move(body)] {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
      error = "sched_setaffinity to CPU " + std::to_string(cpu) + " failed";
      ready.fetch_add(1);
      return;
    }
    // Start together, so that both CPUs are in the program at the same time.
    ready.fetch_add(1);
    while (ready.load() < 2) {
    }
    try {
      body();
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
}

class ConcurrencyTest : public DataPlaneTest {
 protected:
  void SetUp() override {
    DataPlaneTest::SetUp();
    if (libbpf_num_possible_cpus() < 2 || std::thread::hardware_concurrency() < 2) {
      GTEST_SKIP() << "needs two CPUs";
    }
    cpu_set_t allowed;
    ASSERT_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
    if (!CPU_ISSET(0, &allowed) || !CPU_ISSET(1, &allowed)) GTEST_SKIP() << "CPU 0 or 1 not usable";
  }

  capture::DataPlaneOptions InitialOptions() const override {
    capture::DataPlaneOptions options = TestOptions();
    options.sample_every_k = 0;  // keep the ring quiet: only the first 8 packets are sampled
    return options;
  }

  // NG_STAT_XDP_PACKETS and NG_STAT_TC_PACKETS as counted on CPU `cpu`.
  std::pair<uint64_t, uint64_t> PerCpuPackets(int cpu) {
    std::vector<uint64_t> values(static_cast<size_t>(libbpf_num_possible_cpus()));
    uint32_t index = NG_STAT_XDP_PACKETS;
    EXPECT_EQ(bpf_map_lookup_elem(dp().stats_fd(), &index, values.data()), 0);
    const uint64_t xdp = values.at(static_cast<size_t>(cpu));
    index = NG_STAT_TC_PACKETS;
    EXPECT_EQ(bpf_map_lookup_elem(dp().stats_fd(), &index, values.data()), 0);
    return {xdp, values.at(static_cast<size_t>(cpu))};
  }
};

TEST_F(ConcurrencyTest, SameFlowFromTwoCpusLosesNoUpdate) {
  const Frame frame =
      PacketBuilder().Ip("10.0.0.1", "10.0.0.2").Udp(4000, 5000).Payload(100).Build();
  const int fd = dp().xdp_prog_fd();
  std::atomic<int> ready{0};
  std::string errors[2];
  std::vector<std::thread> threads;
  for (int cpu = 0; cpu < 2; ++cpu) {
    threads.push_back(Pinned(cpu, ready, errors[cpu], [&] {
      for (uint32_t i = 0; i < kCalls; ++i) {
        if (RunXdp(fd, frame, 5'000'000'000, kRepeat) != kXdpPass) throw std::runtime_error("drop");
      }
    }));
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(errors[0], "");
  ASSERT_EQ(errors[1], "");

  // Each CPU ran its share (the pinning worked), and the flow saw every packet exactly.
  EXPECT_EQ(PerCpuPackets(0).first, kPerThread);
  EXPECT_EQ(PerCpuPackets(1).first, kPerThread);
  const uint64_t total = 2 * kPerThread;
  const std::optional<ng_flow> flow = Flow(HandKey("10.0.0.1", 4000, "10.0.0.2", 5000, 17));
  ASSERT_TRUE(flow.has_value());
  const ng_dir_stats& fwd = flow->dir[NG_DIR_FWD];
  EXPECT_EQ(fwd.payload.count, total);
  EXPECT_EQ(fwd.payload.sum, static_cast<int64_t>(total * 100));
  EXPECT_EQ(fwd.payload.sum_sq, total * 100 * 100);
  EXPECT_EQ(fwd.wire_bytes, total * frame.size());
  EXPECT_EQ(fwd.l3_hdr_bytes, total * 20);
  EXPECT_EQ(fwd.l4_hdr_bytes, total * 8);
  EXPECT_EQ(fwd.data_pkts, total);
  EXPECT_EQ(fwd.iat.count, total - 1);
  EXPECT_EQ(flow->iat.count, total - 1);
  EXPECT_EQ(flow->dir[NG_DIR_BWD].payload.count, 0u);
  const capture::StatCounters stats = Stats();
  EXPECT_EQ(stats[NG_STAT_XDP_PACKETS], total);
  EXPECT_EQ(stats[NG_STAT_FLOWS_STARTED], 1u);
  EXPECT_EQ(stats[NG_STAT_FLOW_INSERT_FAILED], 0u);
  EXPECT_EQ(stats[NG_STAT_SAMPLES], 8u);  // the packet count is read under the lock
  EXPECT_EQ(stats[NG_STAT_RING_DROPS], 0u);
  EXPECT_EQ(FlowEvents(Drain()).size(), 1u);
}

// XDP on one CPU (client -> server) and TC on the other (server -> client) update one entry.
TEST_F(ConcurrencyTest, XdpAndTcOnTwoCpusLoseNoUpdate) {
  const Frame c2s = tcp_scenario::C2S(NG_TCP_ACK, 500, 0, 40);
  const Frame s2c = tcp_scenario::S2C(NG_TCP_ACK | NG_TCP_PSH, 600, 0, 1000);
  // The client's first packet fixes the initiator before the race starts.
  ASSERT_EQ(Xdp(c2s, 1'000'000'000), kXdpPass);
  const int xdp_fd = dp().xdp_prog_fd();
  const int tc_fd = dp().tc_prog_fd();
  std::atomic<int> ready{0};
  std::string errors[2];
  std::thread xdp = Pinned(0, ready, errors[0], [&] {
    for (uint32_t i = 0; i < kCalls; ++i) RunXdp(xdp_fd, c2s, 2'000'000'000, kRepeat);
  });
  std::thread tc = Pinned(1, ready, errors[1], [&] {
    for (uint32_t i = 0; i < kCalls; ++i) RunTc(tc_fd, s2c, 2'000'000'000, kRepeat);
  });
  xdp.join();
  tc.join();
  ASSERT_EQ(errors[0], "");
  ASSERT_EQ(errors[1], "");
  EXPECT_EQ(PerCpuPackets(0).first + PerCpuPackets(1).first, kPerThread + 1);
  EXPECT_EQ(PerCpuPackets(1).second, kPerThread);

  const std::optional<ng_flow> flow = Flow(tcp_scenario::Key());
  ASSERT_TRUE(flow.has_value());
  EXPECT_EQ(flow->initiator, NG_SIDE_B);
  const ng_dir_stats& fwd = flow->dir[NG_DIR_FWD];
  const ng_dir_stats& bwd = flow->dir[NG_DIR_BWD];
  EXPECT_EQ(fwd.payload.count, kPerThread + 1);
  EXPECT_EQ(fwd.payload.sum, static_cast<int64_t>((kPerThread + 1) * 40));
  EXPECT_EQ(fwd.flag_counts[4], kPerThread + 1);
  EXPECT_EQ(fwd.wire_bytes, (kPerThread + 1) * c2s.size());
  EXPECT_EQ(bwd.payload.count, kPerThread);
  EXPECT_EQ(bwd.payload.sum, static_cast<int64_t>(kPerThread * 1000));
  EXPECT_EQ(bwd.payload.sum_sq, kPerThread * 1000 * 1000);
  EXPECT_EQ(bwd.flag_counts[3], kPerThread);
  EXPECT_EQ(bwd.wire_bytes, kPerThread * s2c.size());
  EXPECT_EQ(flow->iat.count, 2 * kPerThread);
  EXPECT_EQ(flow->iat.sum, 1'000'000);  // one step from 1 s to 2 s, then zeros
  EXPECT_EQ(flow->last_ts_ns, 2'000'000'000u);
  EXPECT_EQ(Stats()[NG_STAT_FLOWS_STARTED], 1u);
}

}  // namespace
}  // namespace netguard::testing
