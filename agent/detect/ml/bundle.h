// Model bundles (docs/models.md): a directory with bundle.json (the contract: feature mode and
// order, classes, thresholds, MITRE mapping, metrics, provenance, file checksums), the XGBoost
// gate and multiclass models and the K-Means centroids. Written by ngtrain, loaded by the agent.
#ifndef NETGUARD_AGENT_DETECT_ML_BUNDLE_H_
#define NETGUARD_AGENT_DETECT_ML_BUNDLE_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "features/features.h"

namespace netguard::detect::ml {

/// The bundle.json format this code reads and writes.
inline constexpr int kBundleFormatVersion = 1;
/// The class name of flows judged benign, and of K-Means anomalies.
inline constexpr std::string_view kBenign = "BENIGN";
inline constexpr std::string_view kAnomaly = "Anomaly";

/// A bundle cannot be used; what() names the file and what is wrong with it.
class BundleError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One attack class of the multiclass model, with its held-out metrics.
struct ClassInfo {
  std::string name;      // e.g. "PortScan"
  std::string mitre;     // e.g. "T1046"
  double threshold = 0;  // calibrated probability needed to report this class
  double precision = 0;  // held-out
  double recall = 0;
  double f1 = 0;
  uint64_t support = 0;  // held-out rows of this class
};

/// Held-out metrics of the whole path (gate, multiclass, thresholds; anomalies count as benign
/// in the confusion matrix and as false positives in benign_fpr).
struct BundleMetrics {
  std::vector<std::string> labels;  // BENIGN then the attack classes
  std::vector<uint64_t> confusion;  // row-major labels x labels: [true][predicted]
  double macro_f1 = 0;              // over labels
  double benign_fpr = 0;            // benign rows that raise any alert / benign rows
  double benign_f1 = 0;
  double benign_precision = 0;
  double benign_recall = 0;
  uint64_t benign_support = 0;
  uint64_t test_rows = 0;
};

/// K-Means on benign flows: features are scaled (sign(x) * log1p(|x|), then (v - mean) / scale)
/// and a benign verdict whose distance to the nearest centroid exceeds `threshold` is an anomaly.
struct KMeansModel {
  std::vector<double> mean;       // per feature
  std::vector<double> scale;      // per feature, > 0
  std::vector<double> centroids;  // k x features, row-major, in scaled space
  size_t k = 0;
  double percentile = 0;  // of benign training distances the threshold was taken at
  double threshold = 0;
};

/// The K-Means scaling's first step, sign(x) * log1p(|x|), in float (the agent computes it for
/// every benign verdict); NaN stays NaN. ngtrain and the agent both use this one definition.
inline double SignedLog1p(float x) {
  return static_cast<double>(std::copysign(std::log1p(std::fabs(x)), x));
}

/// Everything in a bundle, model bytes included.
struct Bundle {
  std::string name;
  std::string feature_mode;           // "cic2017" or "corrected"
  std::vector<std::string> features;  // model input order; extractor names (FeatureNames())
  std::vector<ClassInfo> classes;     // multiclass output order
  double gate_threshold = 0.5;        // P(attack) from the gate needed to classify
  double temperature = 1;             // softmax(margin / temperature) calibrates the multiclass
  KMeansModel kmeans;
  BundleMetrics metrics;
  std::vector<std::pair<std::string, double>> importances;  // normalised total gain, sums to 1
  std::string provenance_json;         // object: data files + sha256, seed, parameters, versions
  std::vector<char> gate_model;        // gate.ubj
  std::vector<char> multiclass_model;  // multiclass.ubj
  std::string checksum;                // sha256 over the model files' sha256s (set on load/write)
  std::string path;                    // directory it was loaded from or written to
};

/// Reads and validates the bundle in directory `dir`: bundle.json parses and has every key with
/// the right type, the format version is known, the feature mode and every feature name are
/// known to the extractor (no duplicates), classes and thresholds agree, and each model file
/// exists and matches its sha256. Throws BundleError naming the file and the problem. The models
/// themselves are checked when a Classifier is built from the bundle.
Bundle LoadBundle(const std::string& dir);

/// Throws BundleError unless the bundle's feature mode is `mode` (the extractor's).
void CheckFeatureMode(const Bundle& bundle, features::FeatureMode mode);

/// The unique name of extractor feature `index` in bundles: FeatureNames(), except the second
/// "Fwd Header Length" (index 55), which is "Fwd Header Length.1".
std::string BundleFeatureName(size_t index);

/// Indexes into the extractor's FeatureVector of the bundle's features, in model order.
std::vector<size_t> FeatureIndexes(const Bundle& bundle);

/// Writes `bundle` into `dir` (created if needed): gate.ubj, multiclass.ubj, centroids.json and
/// bundle.json with the files' sha256. Sets bundle.path and bundle.checksum. Throws
/// std::runtime_error when a file cannot be written.
void WriteBundle(Bundle& bundle, const std::string& dir);

/// Lower-case hex SHA-256 of `bytes`.
std::string Sha256Hex(std::span<const char> bytes);

}  // namespace netguard::detect::ml

#endif  // NETGUARD_AGENT_DETECT_ML_BUNDLE_H_
