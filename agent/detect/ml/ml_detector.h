// The ML detector: every finished flow -> features (the bundle's mode, plus the context features
// over the flows finished before it) -> gate -> multiclass -> class, score and MITRE technique;
// flows judged benign -> K-Means, far ones -> Anomaly. Finished flows are batched and classified
// together at the end of each sweep (or when the batch is full): one XGBoost call per model per
// batch.
#ifndef NETGUARD_AGENT_DETECT_ML_ML_DETECTOR_H_
#define NETGUARD_AGENT_DETECT_ML_ML_DETECTOR_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "detect/detector.h"
#include "detect/ml/classifier.h"
#include "detect/ml/model_slot.h"
#include "features/context.h"
#include "features/features.h"

namespace netguard::detect::ml {

struct MlOptions {
  bool anomalies = true;    // raise Anomaly alerts from K-Means
  size_t max_batch = 1024;  // classify as soon as this many flows wait
  size_t top_features = 5;  // evidence: contributing features per alert (0: none)
  // Alerts per batch that get SHAP evidence (computed in one call per batch, tens of us each):
  // a flood of alerts must not stall the pipeline. The others say "evidence_skipped".
  size_t max_evidence_per_batch = 64;
  // Flows of the same source, destination and class within this window of the last alert raise
  // no new alert; the next one counts them ("similar_flows"). Denial-of-service classes (MITRE
  // T1498/T1499) count per destination whatever the source. 0: an alert per flow.
  std::chrono::seconds repeat_window{60};
};

/// Classifies with whatever bundle `slot` holds when a batch runs (none: flows pass unjudged).
class MlDetector final : public Detector {
 public:
  MlDetector(std::shared_ptr<ModelSlot> slot, MlOptions options);

  std::string_view name() const override { return "ml.xgboost"; }
  void OnFlowStart(const FlowRecord&, AlertSink&) override {}
  /// Queues the flow (features computed now); classifies when the batch is full.
  void OnFlowEnd(const FlowRecord& flow, AlertSink& sink) override;
  /// Classifies the queued flows and emits their alerts.
  void Flush(AlertSink& sink) override;

  void set_options(const MlOptions& options) { options_ = options; }
  uint64_t classified() const { return classified_; }
  /// Alerts not raised because a similar one was raised within repeat_window.
  uint64_t suppressed() const { return suppressed_; }

 private:
  struct Pending {
    FlowRecord flow;
    features::FeatureVector features;
  };
  void EmitAlert(const Classifier& model, const Pending& p, const Verdict& v,
                 const std::vector<Contribution>* contributions, uint64_t similar,
                 AlertSink& sink) const;

  std::shared_ptr<ModelSlot> slot_;
  MlOptions options_;
  features::FlowContext context_;  // the context features of every finished flow
  uint64_t min_packets_;
  std::vector<Pending> pending_;
  std::vector<float> rows_;        // reused between batches
  std::vector<Verdict> verdicts_;  // reused between batches
  std::vector<uint64_t> similar_;  // per alert of a batch: flows suppressed before it
  uint64_t classified_ = 0;
  uint64_t suppressed_ = 0;
  struct Recent {
    int64_t alerted_ns = 0;  // flow end time of the last alert raised
    uint64_t similar = 0;    // flows since then that raised none
  };
  // (source or "" for denial of service, destination, class) -> last alert; pruned to the
  // window at every batch
  std::map<std::tuple<std::string, std::string, std::string>, Recent> recent_;
  // True when this verdict should raise an alert now; `similar` receives the suppressed count.
  bool ShouldAlert(const Classifier& model, const Pending& p, const Verdict& v, uint64_t& similar);
};

}  // namespace netguard::detect::ml

#endif  // NETGUARD_AGENT_DETECT_ML_ML_DETECTOR_H_
