// A gtest fixture that runs the real netguardd on the sensor side of a NetnsLab, as an operator
// does: a YAML configuration file, a store, the control socket and the daemon's log in a state
// directory /tmp/nge2e-<pid>-<name>, maps pinned under /sys/fs/bpf/nge2e-<pid>-<name>, and the
// installed-style `ngctl` binary (-o json) as the client. Clients in the peer namespace (nmap)
// run through `ip netns exec`. Every wait is bounded; on failure the daemon's log (and any other
// log named in dump_on_failure_) is printed; the daemon is SIGKILLed, and the state directory,
// the pins and the namespaces removed, also when the test fails.
//
// Needs NETGUARDD_PATH and NGCTL_PATH defined (compile definitions of the test target).
#ifndef NETGUARD_TESTS_E2E_DAEMON_FIXTURE_H_
#define NETGUARD_TESTS_E2E_DAEMON_FIXTURE_H_

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "child_process.h"
#include "netns_lab.h"
#include "traffic.h"

namespace netguard::e2e {

inline constexpr milliseconds kDaemonStart{20000};  // BPF load + verification, busy 2-core box
inline constexpr milliseconds kDaemonStop{15000};   // drain, final sweep, store close

/// Output of one ngctl run: exit code, everything it printed, and its JSON lines parsed.
struct CtlResult {
  int code = -1;
  std::string output;
  std::vector<nlohmann::json> objects;
};

/// uint64 fields are strings in the protobuf JSON mapping; numbers are accepted too.
uint64_t U64(const nlohmann::json& value);
int64_t I64(const nlohmann::json& value);
/// object[key] when it is a string, else "".
std::string Str(const nlohmann::json& object, const char* key);

/// Occurrences of `needle` in `text`.
size_t CountOf(const std::string& text, const std::string& needle);

class DaemonE2eTest : public ::testing::Test {
 protected:
  /// `name` names the state and pin directories; `tools` must be executables in PATH or the
  /// test fails.
  DaemonE2eTest(std::string name, std::vector<std::string> tools)
      : name_(std::move(name)), tools_(std::move(tools)) {}

  /// Skips without root; checks the binaries and tools; creates the lab, the pin directory and
  /// an empty state directory. A derived SetUp calls it first and returns when IsSkipped() or
  /// HasFatalFailure().
  void SetUp() override;
  /// Kills the daemon, prints the logs when the test failed, removes the state directory, the
  /// pins and the namespaces. A derived TearDown releases its own resources first.
  void TearDown() override;

  /// Writes `yaml` to config_ (the file given with --config).
  void WriteConfig(const std::string& yaml);

  /// Starts netguardd on the sensor's interface and waits until the API answers with it
  /// attached.
  void StartDaemon();
  /// SIGTERM; expects exit code 0 within kDaemonStop.
  void StopDaemon();

  /// Runs `ngctl --socket S -o json ARGS...` (bounded: every unary call has a deadline).
  CtlResult Ctl(const std::vector<std::string>& args) const;
  /// Counter `name` of `ngctl status` (status.counters), nullopt when status fails.
  std::optional<uint64_t> Counter(const std::string& name) const;

  /// An nmap SYN scan of `ports` (nmap syntax: "1-200") on the sensor address from
  /// `source_ip` in the peer namespace, one probe per port, bounded to 30 s; returns nmap's
  /// exit code and its output in *output.
  int NmapSynScan(const std::string& source_ip, const std::string& ports,
                  std::string* output) const;

  /// The command line that runs `argv` in the peer namespace, bounded to `seconds`.
  std::vector<std::string> PeerCommand(std::vector<std::string> argv, int seconds) const;
  /// Runs a tool in the peer namespace, bounded to `seconds`; returns its exit status.
  int InPeer(std::vector<std::string> argv, int seconds = 30, std::string* output = nullptr) const;

  /// hping3 `args` from the peer namespace at the sensor: `count` packets `gap_us` apart, bounded
  /// to 20 s. Whether it sent them all (its exit status says whether anything answered).
  bool Hping(std::vector<std::string> args, int count, int gap_us) const;

  /// Everything the daemon logged so far (all starts).
  std::string DaemonLog() const;
  /// Waits until the daemon log holds `needle` at least `times` times.
  bool WaitForLog(const std::string& needle, size_t times, milliseconds timeout = kWait) const;

  std::string name_;
  std::vector<std::string> tools_;
  std::unique_ptr<NetnsLab> lab_;
  std::unique_ptr<PinDir> pins_;
  std::string state_;  // config, store, socket and logs
  std::string socket_;
  std::string config_;
  std::string daemon_log_;
  std::vector<std::string> dump_on_failure_;  // printed by TearDown when the test failed
  int starts_ = 0;
  std::unique_ptr<ChildProcess> daemon_;
};

}  // namespace netguard::e2e

#endif  // NETGUARD_TESTS_E2E_DAEMON_FIXTURE_H_
