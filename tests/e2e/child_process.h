// A child process for the end-to-end tests and benchmarks: netguardd run in the sensor
// namespace with its output in a log file, or a client (ngctl alerts --follow) whose stdout the
// caller reads line by line. Every wait is bounded; the child is SIGKILLed and reaped on
// destruction and dies with the calling process (PR_SET_PDEATHSIG), so a failing test leaves no
// process behind.
#ifndef NETGUARD_TESTS_E2E_CHILD_PROCESS_H_
#define NETGUARD_TESTS_E2E_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "netns_lab.h"

namespace netguard::e2e {

class ChildProcess {
 public:
  struct Options {
    int netns_fd = -1;         // setns(CLONE_NEWNET) into it before exec; -1: stay
    std::string output_path;   // stdout and stderr appended to this file ...
    bool pipe_stdout = false;  // ... or stdout to a pipe for ReadLine (stderr to output_path
                               // when given, else /dev/null)
  };

  /// Starts argv[0] (a path, not searched in PATH). Throws std::system_error.
  ChildProcess(const std::vector<std::string>& argv, const Options& options);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig) const;

  /// Wait status once the child exited (reaped), or nullopt if it still runs after `timeout`.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);
  /// True while the child has not exited (reaps it when it has).
  bool Running();

  /// Next line of the piped stdout (without '\n'), or nullopt when none completes within
  /// `timeout` or the pipe closed.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  Fd stdout_;
  std::string pending_;  // bytes read after the last complete line
};

/// "exit N" or "signal NAME" for a wait status.
std::string DescribeWaitStatus(int status);

}  // namespace netguard::e2e

#endif  // NETGUARD_TESTS_E2E_CHILD_PROCESS_H_
