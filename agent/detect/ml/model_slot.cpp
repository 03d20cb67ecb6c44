#include "detect/ml/model_slot.h"

#include <utility>

#include "common/clock.h"

namespace netguard::detect::ml {

ModelSlot::ModelSlot(features::FeatureMode mode, std::string configured_path) : mode_(mode) {
  state_.configured_path = std::move(configured_path);
}

std::shared_ptr<const Classifier> ModelSlot::Load(const std::string& dir) {
  std::string path;
  {
    std::lock_guard lock(mu_);
    path = dir.empty() ? state_.configured_path : dir;
  }
  // Built outside the lock: flows keep being classified by the active bundle meanwhile.
  try {
    std::shared_ptr<const Classifier> next = LoadClassifier(path, mode_);
    std::lock_guard lock(mu_);
    state_.classifier = next;
    state_.loaded_at_ns = WallNowNs();
    state_.error.clear();
    return next;
  } catch (const std::exception& e) {
    std::lock_guard lock(mu_);
    state_.error = e.what();
    throw BundleError(e.what());
  }
}

std::shared_ptr<const Classifier> ModelSlot::active() const {
  std::lock_guard lock(mu_);
  return state_.classifier;
}

ModelState ModelSlot::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

void ModelSlot::set_configured_path(std::string path) {
  std::lock_guard lock(mu_);
  state_.configured_path = std::move(path);
}

}  // namespace netguard::detect::ml
