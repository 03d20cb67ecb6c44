// An ordered list of start-up steps with guaranteed teardown in reverse order.
#ifndef NETGUARD_AGENT_APP_STARTUP_H_
#define NETGUARD_AGENT_APP_STARTUP_H_

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace netguard::app {

/// A start-up step failed; the message says which step, why, and (when known) what to do.
class StartupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Runs steps in order. When one fails, the steps already done are torn down in reverse order
/// and StartupError names the failed step. The destructor tears down everything that started.
class Startup {
 public:
  struct Step {
    std::string name;  // e.g. "open store /var/lib/netguard/netguard.db"
    std::function<void()> up;
    std::function<void()> down = {};  // may be empty
    std::string hint = {};            // what to do when `up` fails
  };

  ~Startup() { TearDown(); }

  void Add(Step step) { steps_.push_back(std::move(step)); }
  /// Runs every step not yet run. Throws StartupError.
  void Run();
  /// Tears down the steps that ran, last first. Idempotent; never throws.
  void TearDown() noexcept;

 private:
  std::vector<Step> steps_;
  size_t done_ = 0;
};

}  // namespace netguard::app

#endif  // NETGUARD_AGENT_APP_STARTUP_H_
