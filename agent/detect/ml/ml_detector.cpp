#include "detect/ml/ml_detector.h"

#include <nlohmann/json.hpp>
#include <utility>

namespace netguard::detect::ml {

MlDetector::MlDetector(std::shared_ptr<ModelSlot> slot, MlOptions options)
    : slot_(std::move(slot)),
      options_(options),
      min_packets_(features::LifecycleFor(slot_->mode()).min_packets) {}

void MlDetector::OnFlowEnd(const FlowRecord& flow, AlertSink& sink) {
  // Flows the training data cannot contain (cic2017 writes no 1-packet flow) are not judged.
  if (ng_flow_packets(&flow.acc) < min_packets_ || ng_flow_packets(&flow.acc) == 0) return;
  pending_.push_back({flow, features::ComputeFeatures(flow, slot_->mode())});
  if (pending_.size() >= options_.max_batch) Flush(sink);
}

void MlDetector::Flush(AlertSink& sink) {
  if (pending_.empty()) return;
  // One bundle for the whole batch, even if a reload swaps the slot meanwhile.
  const std::shared_ptr<const Classifier> model = slot_->active();
  if (!model) {
    pending_.clear();
    return;
  }
  const size_t n = pending_.size(), d = model->num_features();
  rows_.resize(n * d);
  for (size_t i = 0; i < n; ++i) model->Gather(pending_[i].features, &rows_[i * d]);
  model->Classify(rows_, n, verdicts_, options_.anomalies);
  classified_ += n;
  size_t explained = 0;
  for (size_t i = 0; i < n; ++i) {
    const Verdict& v = verdicts_[i];
    if (v.label == Verdict::kBenign || (v.label == Verdict::kAnomaly && !options_.anomalies)) {
      continue;
    }
    const bool explain = explained < options_.max_evidence_per_batch;
    explained += explain ? 1 : 0;
    EmitAlert(*model, pending_[i], &rows_[i * d], v, explain, sink);
  }
  pending_.clear();
}

void MlDetector::EmitAlert(const Classifier& model, const Pending& p, const float* row,
                           const Verdict& v, bool explain, AlertSink& sink) const {
  const Bundle& b = model.bundle();
  nlohmann::json top = nlohmann::json::array();
  // SHAP contributions cost one more prediction per alert (none when top_features is 0)
  const std::vector<Contribution> contributions = explain && options_.top_features > 0
                                                      ? model.Explain(row, v, options_.top_features)
                                                      : std::vector<Contribution>{};
  for (const Contribution& c : contributions) {
    top.push_back({{"feature", c.feature}, {"value", c.value}, {"contribution", c.contribution}});
  }
  nlohmann::json evidence = {{"model", b.name},
                             {"model_checksum", b.checksum.substr(0, 16)},
                             {"gate_p", v.gate_p},
                             {"top_features", top}};
  if (!explain)
    evidence["evidence_skipped"] = "more alerts in this batch than max_evidence_per_batch";
  if (v.label >= 0) {
    evidence["class_p"] = v.class_p;
    evidence["class_threshold"] = b.classes[static_cast<size_t>(v.label)].threshold;
  } else {
    evidence["distance"] = v.distance;
    evidence["anomaly_threshold"] = b.kmeans.threshold;
  }
  const Endpoint src = Initiator(p.flow), dst = Responder(p.flow);
  Alert alert;
  alert.time_ns = p.flow.end_ns;
  alert.src_addr = src.address;
  alert.src_port = src.port;
  alert.dst_addr = dst.address;
  alert.dst_port = dst.port;
  alert.protocol = p.flow.key.proto;
  alert.alert_class = std::string(model.LabelName(v.label));
  alert.score = v.score;
  alert.severity = v.label >= 0 && v.score >= 0.9 ? Severity::kHigh : Severity::kWarning;
  alert.mitre_technique = v.label >= 0 ? b.classes[static_cast<size_t>(v.label)].mitre : "";
  alert.detector = std::string(name());
  alert.evidence_json = evidence.dump();
  sink.Emit(std::move(alert));
}

}  // namespace netguard::detect::ml
