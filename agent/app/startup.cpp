#include "app/startup.h"

#include <spdlog/spdlog.h>

#include <exception>

namespace netguard::app {

void Startup::Run() {
  for (; done_ < steps_.size(); ++done_) {
    const Step& step = steps_[done_];
    spdlog::debug("start-up: {}", step.name);
    try {
      step.up();
    } catch (const std::exception& e) {
      std::string message = step.name + " failed: " + e.what();
      if (!step.hint.empty()) message += " (" + step.hint + ")";
      TearDown();
      throw StartupError(message);
    }
  }
}

void Startup::TearDown() noexcept {
  while (done_ > 0) {
    const Step& step = steps_[--done_];
    if (!step.down) continue;
    spdlog::debug("shutdown: {}", step.name);
    try {
      step.down();
    } catch (const std::exception& e) {
      spdlog::error("shutdown of '{}' failed: {}", step.name, e.what());
    }
  }
}

}  // namespace netguard::app
