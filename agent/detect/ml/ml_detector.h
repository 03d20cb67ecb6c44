// The ML detector: every finished flow -> features (the bundle's mode) -> gate -> multiclass ->
// class, score and MITRE technique; flows judged benign -> K-Means, far ones -> Anomaly. Finished
// flows are batched and classified together at the end of each sweep (or when the batch is
// full): one XGBoost call per model per batch.
#ifndef NETGUARD_AGENT_DETECT_ML_ML_DETECTOR_H_
#define NETGUARD_AGENT_DETECT_ML_ML_DETECTOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "detect/detector.h"
#include "detect/ml/classifier.h"
#include "detect/ml/model_slot.h"
#include "features/features.h"

namespace netguard::detect::ml {

struct MlOptions {
  bool anomalies = true;    // raise Anomaly alerts from K-Means
  size_t max_batch = 1024;  // classify as soon as this many flows wait
  size_t top_features = 5;  // evidence: contributing features per alert (0: none)
  // Alerts per batch that get SHAP evidence (computed in one call per batch, tens of us each):
  // a flood of alerts must not stall the pipeline. The others say "evidence_skipped".
  size_t max_evidence_per_batch = 64;
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

 private:
  struct Pending {
    FlowRecord flow;
    features::FeatureVector features;
  };
  void EmitAlert(const Classifier& model, const Pending& p, const Verdict& v,
                 const std::vector<Contribution>* contributions, AlertSink& sink) const;

  std::shared_ptr<ModelSlot> slot_;
  MlOptions options_;
  uint64_t min_packets_;
  std::vector<Pending> pending_;
  std::vector<float> rows_;        // reused between batches
  std::vector<Verdict> verdicts_;  // reused between batches
  uint64_t classified_ = 0;
};

}  // namespace netguard::detect::ml

#endif  // NETGUARD_AGENT_DETECT_ML_ML_DETECTOR_H_
