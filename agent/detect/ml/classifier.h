// The ML verdict path of a loaded bundle: gate -> multiclass (calibrated) -> per-class threshold,
// and K-Means distance for flows judged benign. Shared by the agent's detector, ngtrain's
// evaluation and the benchmark, so the metrics in a bundle are those of the agent's own code.
#ifndef NETGUARD_AGENT_DETECT_ML_CLASSIFIER_H_
#define NETGUARD_AGENT_DETECT_ML_CLASSIFIER_H_

#include <cmath>
#include <cstddef>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "detect/ml/bundle.h"
#include "detect/ml/xgb.h"
#include "features/features.h"

namespace netguard::detect::ml {

/// A feature value as the models take it: a float, NaN (missing) for +-Infinity, NaN and values
/// beyond float range. ngtrain converts its rows with this too.
inline float ToModelValue(double v) {
  const auto f = static_cast<float>(v);
  return std::isfinite(f) ? f : std::numeric_limits<float>::quiet_NaN();
}

/// The verdict on one flow.
struct Verdict {
  static constexpr int kBenign = -1;
  static constexpr int kAnomaly = -2;
  int label = kBenign;  // index into Bundle::classes, or kBenign / kAnomaly
  float gate_p = 0;     // P(attack) from the gate
  float class_p = 0;    // calibrated probability of the top attack class (gate passed)
  float distance = 0;   // scaled distance to the nearest benign centroid (benign verdicts)
  /// 0..1: gate_p * class_p for a class, 1 - threshold / distance for an anomaly, 1 - gate_p
  /// for a benign flow.
  float score = 0;
};

/// One feature's part in a verdict.
struct Contribution {
  std::string feature;
  double value = 0;         // the flow's feature value
  double contribution = 0;  // SHAP value toward the class (margin units), or share of the
                            // squared anomaly distance
};

/// A bundle ready to classify. Immutable after construction; Classify/Explain may run from one
/// thread at a time per Classifier (XGBoost keeps a per-booster prediction buffer).
class Classifier {
 public:
  /// Loads the bundle's models and checks them against its contract: the number of features
  /// of both models and the number of multiclass outputs. Throws BundleError.
  explicit Classifier(Bundle bundle);

  const Bundle& bundle() const { return bundle_; }
  size_t num_features() const { return bundle_.features.size(); }
  /// Name of a verdict's label: a class name, "BENIGN" or "Anomaly".
  std::string_view LabelName(int label) const;

  /// Writes the bundle's features of `vector` (the extractor's output) into `row`, in model
  /// order, as floats; +-Infinity become NaN (missing), as in training.
  void Gather(const features::FeatureVector& vector, float* row) const;

  /// Classifies `n` rows (row-major, num_features() columns) into `out` (resized to n). Without
  /// `anomalies`, benign verdicts skip the K-Means distance (and are never kAnomaly).
  void Classify(std::span<const float> rows, size_t n, std::vector<Verdict>& out,
                bool anomalies = true) const;

  /// The `k` features that pushed one row toward its verdict, largest first: XGBoost SHAP
  /// contributions of the multiclass model to the verdict's class (gate for a gate-only
  /// verdict), or each feature's share of the squared distance for an anomaly.
  std::vector<Contribution> Explain(const float* row, const Verdict& verdict, size_t k) const;
  /// Explain for `verdicts.size()` rows (row-major in `rows`) with one SHAP call for all class
  /// verdicts; out[i] belongs to row i.
  std::vector<std::vector<Contribution>> ExplainBatch(std::span<const float> rows,
                                                      std::span<const Verdict> verdicts,
                                                      size_t k) const;

  /// Raw margins of one row: the gate's (1 value) or the multiclass model's (one per class).
  std::vector<float> Margins(const float* row, bool gate) const;
  /// SHAP contributions of one row (features + bias per output group), as XGBoost returns them.
  std::vector<float> Contributions(const float* row, bool gate) const;

  /// The benign-model distance of a row (scaled space, nearest centroid); `nearest` receives
  /// the centroid's index when not null.
  double Distance(const float* row, size_t* nearest = nullptr) const;

 private:
  Bundle bundle_;
  std::vector<size_t> indexes_;
  Booster gate_;
  Booster multiclass_;
};

/// LoadBundle + CheckFeatureMode + Classifier: the one call the agent and ngtrain use.
std::shared_ptr<const Classifier> LoadClassifier(const std::string& dir,
                                                 features::FeatureMode mode);

}  // namespace netguard::detect::ml

#endif  // NETGUARD_AGENT_DETECT_ML_CLASSIFIER_H_
