// ngtrain's training: data split, XGBoost gate and multiclass models, calibration and
// thresholds on a validation split, K-Means on benign flows, held-out metrics of the agent's own
// verdict path (detect::ml::Classifier).
#ifndef NETGUARD_MODELS_NGTRAIN_TRAINER_H_
#define NETGUARD_MODELS_NGTRAIN_TRAINER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "detect/ml/bundle.h"

namespace netguard::ngtrain {

/// Rows ready for training: n x d floats (model feature order, NaN = missing) and a label per
/// row: 0 = BENIGN, c + 1 = attack class c.
struct LabelledRows {
  std::vector<float> x;
  std::vector<int> y;
  std::vector<uint32_t> group;  // per row: where it came from (ngtrain: its file); may be empty
  size_t d = 0;
  size_t size() const { return y.size(); }
  /// Appends row `i` of `other`.
  void Append(const LabelledRows& other, size_t i);
};

struct TrainOptions {
  uint64_t seed = 1;
  double test_fraction = 0.2;        // held out when no holdout set is given
  double validation_fraction = 0.2;  // of the rest: calibration and thresholds only
  int rounds = 60;                   // boosting rounds per model (multiclass: per class)
  int max_depth = 4;                 // shallow trees: smoother, smaller (the shipped bundle < 1 MB)
  double eta = 0.3;
  int threads = 1;                   // fixed for determinism
  size_t clusters = 8;               // K-Means k
  double anomaly_percentile = 99.9;  // of benign distances; ngtrain: 100·(1 − max_benign_fpr)
  double max_benign_fpr = 1e-3;      // the gate threshold keeps validation FPR under this
  bool balance = true;               // weight rows so every class counts the same in training
  bool validation_by_group = false;  // validation = whole groups (runs), not rows
  std::function<void(const std::string&)> progress;  // one line per step; may be empty
};

/// Stratified split: each label's rows shuffled with `seed`, `fraction` of them (rounded, at
/// least one when a label has two or more rows) go to `second`. `by_group`: the same over whole
/// groups (all.group), each stratified by its most frequent attack label (0 if all benign), so
/// no group has rows on both sides.
void StratifiedSplit(const LabelledRows& all, double fraction, uint64_t seed, LabelledRows& first,
                     LabelledRows& second, bool by_group = false);

/// Per-label precision/recall/F1 and macro-F1 of a confusion matrix (row = truth).
struct LabelScores {
  std::vector<double> precision, recall, f1;
  std::vector<uint64_t> support;
  double macro_f1 = 0;
};
LabelScores Score(const std::vector<uint64_t>& confusion, size_t labels);

/// Trains on `train` (split into train and validation), evaluates on `test` with the verdict
/// path of the agent and fills the bundle's models, thresholds, metrics and importances.
/// `bundle` must hold name, feature_mode, features and classes (names + MITRE) on entry.
void Train(const LabelledRows& train, const LabelledRows& test, const TrainOptions& options,
           detect::ml::Bundle& bundle);

}  // namespace netguard::ngtrain

#endif  // NETGUARD_MODELS_NGTRAIN_TRAINER_H_
