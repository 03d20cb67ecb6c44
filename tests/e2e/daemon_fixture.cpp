#include "daemon_fixture.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#ifndef NETGUARDD_PATH
#error "NETGUARDD_PATH must name the netguardd binary"
#endif
#ifndef NGCTL_PATH
#error "NGCTL_PATH must name the ngctl binary"
#endif

namespace netguard::e2e {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

uint64_t U64(const json& value) {
  if (value.is_string()) return std::stoull(value.get<std::string>());
  if (value.is_number_unsigned() || value.is_number_integer()) return value.get<uint64_t>();
  return 0;
}

int64_t I64(const json& value) {
  if (value.is_string()) return std::stoll(value.get<std::string>());
  if (value.is_number_integer()) return value.get<int64_t>();
  return 0;
}

std::string Str(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

size_t CountOf(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos && !needle.empty();
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

namespace {

// Whether an executable `tool` is in PATH (not every tool has a harmless --version: hydra,
// slowhttptest and nginx have none).
bool InPath(const std::string& tool) {
  const char* path = getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && access((dir + "/" + tool).c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace

void DaemonE2eTest::SetUp() {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: network namespaces, BPF programs";
  ASSERT_TRUE(std::filesystem::exists(NETGUARDD_PATH)) << NETGUARDD_PATH;
  ASSERT_TRUE(std::filesystem::exists(NGCTL_PATH)) << NGCTL_PATH;
  for (const std::string& tool : tools_) {
    ASSERT_TRUE(InPath(tool)) << tool << " is needed (scripts/install-deps.sh installs it)";
  }
  lab_ = std::make_unique<NetnsLab>();
  pins_ = std::make_unique<PinDir>(name_);
  // /tmp/nge2e-<pid>-*: removed by NetnsLab::RemoveStale if this process is killed.
  state_ = "/tmp/" + NetnsLab::Tag() + "-" + name_;
  std::filesystem::remove_all(state_);
  std::filesystem::create_directories(state_);
  socket_ = state_ + "/netguard.sock";
  daemon_log_ = state_ + "/netguardd.log";
  config_ = state_ + "/netguard.yaml";
  dump_on_failure_ = {daemon_log_};
}

void DaemonE2eTest::TearDown() {
  daemon_.reset();  // SIGKILL if it still runs
  if (HasFailure() && !state_.empty()) {
    for (const std::string& path : dump_on_failure_) {
      std::ifstream in(path);
      if (in) std::cerr << "---- " << path << " ----\n" << in.rdbuf() << "\n";
    }
  }
  if (!state_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(state_, ec);
  }
  pins_.reset();
  lab_.reset();
}

void DaemonE2eTest::WriteConfig(const std::string& yaml) {
  std::ofstream config(config_, std::ios::trunc);
  config << yaml;
  config.close();
  ASSERT_TRUE(config.good()) << "cannot write " << config_;
}

void DaemonE2eTest::StartDaemon() {
  {
    std::ofstream log(daemon_log_, std::ios::app);
    log << "==== netguardd start " << ++starts_ << " ====\n";
  }
  daemon_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{NETGUARDD_PATH, "--config", config_, "-i", lab_->sensor_if(),
                               "--bpf-pin-dir", pins_->path(), "--store", state_ + "/netguard.db",
                               "--socket", socket_},
      ChildProcess::Options{.netns_fd = lab_->sensor().fd(), .output_path = daemon_log_});
  // Ready when the API answers with the interface attached (the API starts last).
  bool ready = false;
  const auto deadline = Clock::now() + kDaemonStart;
  while (!ready && Clock::now() < deadline && daemon_->Running()) {
    const CtlResult status = Ctl({"status"});
    if (status.code == 0 && status.objects.size() == 1) {
      for (const json& i : status.objects[0].value("interfaces", json::array())) {
        if (i.value("name", "") == lab_->sensor_if() && i.value("tcEgress", false)) ready = true;
      }
    }
    if (!ready) std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_TRUE(daemon_->Running()) << "netguardd exited: "
                                  << DescribeWaitStatus(*daemon_->WaitExit(milliseconds(0)));
  ASSERT_TRUE(ready) << "netguardd did not serve " << socket_ << " with " << lab_->sensor_if()
                     << " attached within " << kDaemonStart.count() << " ms";
}

void DaemonE2eTest::StopDaemon() {
  daemon_->Signal(SIGTERM);
  const std::optional<int> status = daemon_->WaitExit(kDaemonStop);
  ASSERT_TRUE(status.has_value()) << "netguardd did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << DescribeWaitStatus(*status);
}

CtlResult DaemonE2eTest::Ctl(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {NGCTL_PATH, "--socket", socket_, "-o", "json"};
  argv.insert(argv.end(), args.begin(), args.end());
  CtlResult result;
  result.code = RunCommand(argv, &result.output);
  size_t start = 0;
  while (start < result.output.size()) {
    size_t end = result.output.find('\n', start);
    if (end == std::string::npos) end = result.output.size();
    const std::string line = result.output.substr(start, end - start);
    if (!line.empty() && line.front() == '{') {
      result.objects.push_back(json::parse(line, nullptr, /*allow_exceptions=*/false));
    }
    start = end + 1;
  }
  return result;
}

std::optional<uint64_t> DaemonE2eTest::Counter(const std::string& name) const {
  const CtlResult status = Ctl({"status"});
  if (status.code != 0 || status.objects.size() != 1) return std::nullopt;
  const json counters = status.objects[0].value("counters", json::object());
  const auto it = counters.find(name);
  if (it == counters.end()) return std::nullopt;
  return U64(*it);
}

int DaemonE2eTest::NmapSynScan(const std::string& source_ip, const std::string& ports,
                               std::string* output) const {
  return RunCommand({"ip", "netns", "exec", lab_->peer().name(), "timeout", "30", "nmap", "-sS",
                     "-Pn", "-n", "-p", ports, "--max-retries", "0", "-S", source_ip, "-e",
                     lab_->peer_if(), lab_->sensor_ip()},
                    output);
}

std::vector<std::string> DaemonE2eTest::PeerCommand(std::vector<std::string> argv,
                                                    int seconds) const {
  std::vector<std::string> full = {"ip",      "netns", "exec", lab_->peer().name(),
                                   "timeout", "-k",    "2",    std::to_string(seconds)};
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

int DaemonE2eTest::InPeer(std::vector<std::string> argv, int seconds, std::string* output) const {
  std::string ignored;
  return RunCommand(PeerCommand(std::move(argv), seconds), output ? output : &ignored);
}

bool DaemonE2eTest::Hping(std::vector<std::string> args, int count, int gap_us) const {
  args.insert(args.begin(),
              {"hping3", "-q", "-c", std::to_string(count), "-i", "u" + std::to_string(gap_us)});
  args.push_back(lab_->sensor_ip());
  std::string output;
  InPeer(args, 20, &output);
  return output.find(std::to_string(count) + " packets transmitted") != std::string::npos;
}

std::string DaemonE2eTest::DaemonLog() const {
  std::ifstream in(daemon_log_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool DaemonE2eTest::WaitForLog(const std::string& needle, size_t times,
                               milliseconds timeout) const {
  return WaitFor([&] { return CountOf(DaemonLog(), needle) >= times; }, timeout, milliseconds(50));
}

}  // namespace netguard::e2e
