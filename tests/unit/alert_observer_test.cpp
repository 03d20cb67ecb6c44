// FlowSink's alert observers: every committed alert (id set) reaches them in commit order,
// after the detector returned (the detectors' lock is free, so an observer may call back into
// the sink), and a failing observer neither loses the alert nor stops the others.
#include "pipeline/alert_observer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/packet_sample.h"
#include "detect/detector.h"
#include "pipeline/flow_sink.h"
#include "pipeline/stream_notifier.h"

namespace netguard::pipeline {
namespace {

// Raises `per_flow` alerts for every flow that starts.
class Raiser final : public detect::Detector {
 public:
  explicit Raiser(int per_flow) : per_flow_(per_flow) {}
  std::string_view name() const override { return "test.raiser"; }
  void OnFlowStart(const FlowRecord& flow, detect::AlertSink& sink) override {
    for (int i = 0; i < per_flow_; ++i) sink.Emit(Make(flow.start_ns));
  }
  void OnFlowEnd(const FlowRecord&, detect::AlertSink&) override {}
  // Packet-sample rules (DNS, ARP) raise from samples; batching detectors (ML) at Flush.
  void OnPacketSample(const PacketSample& sample, detect::AlertSink& sink) override {
    sink.Emit(Make(sample.time_ns));
  }
  void Flush(detect::AlertSink& sink) override { sink.Emit(Make(0)); }

 private:
  Alert Make(int64_t time_ns) const {
    Alert a;
    a.time_ns = time_ns;
    a.src_addr = "10.0.0.1";
    a.alert_class = "Test";
    a.detector = "test.raiser";
    return a;
  }
  int per_flow_;
};

class Recorder final : public AlertObserver {
 public:
  explicit Recorder(FlowSink* sink = nullptr, bool fail = false) : sink_(sink), fail_(fail) {}
  void OnAlert(const Alert& alert) override {
    ids.push_back(alert.id);
    // Calling back into the sink would deadlock if the detectors' lock were held here.
    if (sink_) sink_->WithDetectors([](auto& detectors) { EXPECT_EQ(detectors.size(), 1u); });
    if (fail_) throw std::runtime_error("observer failure");
  }
  std::vector<int64_t> ids;

 private:
  FlowSink* sink_;
  bool fail_;
};

class AlertObserverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ngp-obs-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    store_ = std::make_unique<store::Store>(store::StoreOptions{.path = dir_ / "s.db"});
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  static FlowRecord Flow(int64_t start_ns) {
    FlowRecord flow;
    flow.key.family = NG_FAMILY_IPV4;
    flow.key.proto = 6;
    flow.start_ns = start_ns;
    return flow;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  StreamNotifier notifier_;
};

TEST_F(AlertObserverTest, ObserversSeeEveryCommittedAlertInOrderOutsideTheLock) {
  FlowSink sink(*store_, notifier_);
  sink.AddDetector(std::make_unique<Raiser>(2));
  Recorder failing(nullptr, true);
  Recorder calling_back(&sink);
  sink.AddObserver(&failing);
  sink.AddObserver(&calling_back);
  for (int i = 1; i <= 3; ++i) sink.FlowStarted(Flow(i));
  const std::vector<int64_t> expected = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(failing.ids, expected);
  EXPECT_EQ(calling_back.ids, expected);  // the first observer's exception did not stop it
  EXPECT_EQ(store_->ListAlerts({}).size(), 6u);
}

TEST_F(AlertObserverTest, ConcurrentCaptureThreadsDeliverInCommitOrder) {
  FlowSink sink(*store_, notifier_);
  sink.AddDetector(std::make_unique<Raiser>(1));
  Recorder recorder;
  sink.AddObserver(&recorder);
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&sink] {
      for (int i = 0; i < kPerThread; ++i) sink.FlowStarted(Flow(i));
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(recorder.ids.size(), 2u * kPerThread);
  for (size_t i = 0; i < recorder.ids.size(); ++i) {
    EXPECT_EQ(recorder.ids[i], static_cast<int64_t>(i + 1));
  }
}

TEST_F(AlertObserverTest, AlertsFromPacketSamplesAndBatchedVerdictsReachObservers) {
  FlowSink sink(*store_, notifier_);
  sink.AddDetector(std::make_unique<Raiser>(0));
  Recorder recorder(&sink);
  sink.AddObserver(&recorder);
  PacketSample sample;
  sample.time_ns = 7;
  sink.PacketSampled(sample);
  EXPECT_EQ(recorder.ids, std::vector<int64_t>({1}));
  sink.Flush();
  EXPECT_EQ(recorder.ids, std::vector<int64_t>({1, 2}));
}

}  // namespace
}  // namespace netguard::pipeline
