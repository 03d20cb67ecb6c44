// FlowSink: detectors see every flow, alerts are committed (then published) and marked
// "degraded coverage" when capture lost something shortly before; finished flows are stored.
#include "pipeline/flow_sink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "detect/detector.h"
#include "pipeline/stream_notifier.h"

namespace netguard::pipeline {
namespace {

constexpr int64_t kSecond = 1000000000;

// Raises one alert per finished flow, at the flow's end time.
class AlertEveryFlow final : public detect::Detector {
 public:
  std::string_view name() const override { return "test.every_flow"; }
  void OnFlowStart(const FlowRecord&, detect::AlertSink&) override { ++starts; }
  void OnFlowEnd(const FlowRecord& flow, detect::AlertSink& sink) override {
    Alert alert;
    alert.time_ns = flow.end_ns;
    alert.src_addr = "10.0.0.1";
    alert.alert_class = "Test";
    alert.detector = std::string(name());
    sink.Emit(std::move(alert));
  }
  int starts = 0;
};

class FlowSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ng-sink-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    store_ = std::make_unique<store::Store>(store::StoreOptions{.path = dir_ / "s.db"});
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  FlowRecord Flow(int64_t end_ns) {
    FlowRecord flow;
    flow.key.family = NG_FAMILY_IPV4;
    flow.key.proto = 17;
    flow.start_ns = end_ns - kSecond;
    flow.end_ns = end_ns;
    return flow;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  StreamNotifier notifier_;
};

TEST_F(FlowSinkTest, AlertsAfterALossAreMarkedDegradedForTheLossMemory) {
  FlowSink sink(*store_, notifier_, std::chrono::seconds(60));
  auto detector = std::make_unique<AlertEveryFlow>();
  AlertEveryFlow* seen = detector.get();
  sink.AddDetector(std::move(detector));

  const int64_t t0 = 1000 * kSecond;
  sink.FlowStarted(Flow(t0));
  sink.FlowFinished(Flow(t0));                 // no loss yet
  sink.NoteLoss(t0 + kSecond);                 // the data plane dropped records
  sink.FlowFinished(Flow(t0 + 2 * kSecond));   // 1 s after the loss: degraded
  sink.FlowFinished(Flow(t0 + 62 * kSecond));  // 61 s after: full coverage again
  sink.Flush();

  EXPECT_EQ(seen->starts, 1);
  const std::vector<Alert> alerts = store_->ListAlerts({.oldest_first = true});
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_FALSE(alerts[0].degraded_coverage);
  EXPECT_TRUE(alerts[1].degraded_coverage);
  EXPECT_FALSE(alerts[2].degraded_coverage);
  EXPECT_EQ(sink.counters().alerts.load(), 3u);
  EXPECT_EQ(sink.counters().flows_finished.load(), 3u);
  // Committed before published: the notifier's newest id is the last stored alert.
  EXPECT_EQ(notifier_.WaitAlert(0, std::chrono::milliseconds(0)), alerts[2].id);
  EXPECT_EQ(store_->flow_count(), 3u);
}

}  // namespace
}  // namespace netguard::pipeline
