// The active model bundle of the agent, swappable while flows are classified (SIGHUP,
// ReloadModel): a load builds the new Classifier aside and then replaces the pointer, so a batch
// in progress finishes on the bundle it started with and no flow is dropped.
#ifndef NETGUARD_AGENT_DETECT_ML_MODEL_SLOT_H_
#define NETGUARD_AGENT_DETECT_ML_MODEL_SLOT_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "detect/ml/classifier.h"
#include "features/features.h"

namespace netguard::detect::ml {

/// What GetModel reports.
struct ModelState {
  std::shared_ptr<const Classifier> classifier;  // null: no bundle, rules only
  int64_t loaded_at_ns = 0;                      // wall clock of the last successful load
  std::string configured_path;                   // model.path
  std::string error;                             // why the last load failed ("" if it did not)
};

/// Thread-safe holder of the active Classifier.
class ModelSlot {
 public:
  /// `mode` is the extractor's feature mode; bundles in another mode are refused.
  ModelSlot(features::FeatureMode mode, std::string configured_path);

  /// Loads the bundle in `dir` (empty: the configured path) and makes it active. On failure
  /// the active bundle (if any) stays, the error is recorded and BundleError is rethrown.
  std::shared_ptr<const Classifier> Load(const std::string& dir = "");
  /// The active classifier, or null.
  std::shared_ptr<const Classifier> active() const;
  ModelState state() const;
  void set_configured_path(std::string path);
  features::FeatureMode mode() const { return mode_; }

 private:
  const features::FeatureMode mode_;
  mutable std::mutex mu_;
  ModelState state_;
};

}  // namespace netguard::detect::ml

#endif  // NETGUARD_AGENT_DETECT_ML_MODEL_SLOT_H_
