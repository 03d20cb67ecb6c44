// The built ngctl binary against an in-process API server: JSON and table output, exit codes,
// the one-line unreachable error, and --follow resuming across a server restart.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api_harness.h"

namespace netguard::testing {
namespace {

using nlohmann::json;

// ngctl started in the background with its stdout on a pipe.
class Background {
 public:
  explicit Background(const std::vector<std::string>& args) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> argv;
      std::string path = NGCTL_PATH;
      argv.push_back(path.data());
      std::vector<std::string> copy = args;
      for (std::string& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(path.c_str(), argv.data());
      _exit(127);
    }
    close(fds[1]);
    fd_ = fds[0];
  }
  ~Background() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }

  /// The next line of output, or "" after `timeout`.
  std::string ReadLine(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      const ssize_t n = read(fd_, chunk, sizeof(chunk));
      if (n <= 0) return "";
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buffer_;
};

int64_t IdOf(const std::string& json_line) {
  return std::stoll(json::parse(json_line).at("id").get<std::string>());  // int64 is a string
}

class NgctlTest : public ::testing::Test {
 protected:
  std::vector<std::string> Args(std::vector<std::string> args) {
    args.insert(args.begin(), {"--socket", h_.socket_path()});
    return args;
  }
  ApiHarness h_;
};

TEST_F(NgctlTest, StatusJsonIsOneObject) {
  const CommandResult r = RunNgctl(Args({"-o", "json", "status"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  const json status = json::parse(lines[0]);
  EXPECT_EQ(status.at("version"), "9.9.9-test");
  EXPECT_EQ(status.at("interfaces").at(0).at("name"), "veth-test");
  EXPECT_EQ(status.at("counters").at("xdp_packets"), "1234");
  EXPECT_EQ(status.at("ringDrops"), "2");
  EXPECT_EQ(status.at("coverageDegraded"), false);  // defaults are printed too
}

TEST_F(NgctlTest, StatusTable) {
  const CommandResult r = RunNgctl(Args({"status"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("9.9.9-test"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("veth-test (ifindex 7, ebpf, xdp generic, tc egress)"), std::string::npos);
  EXPECT_EQ(r.out.find("counter xdp_packets"), std::string::npos);
  const CommandResult wide = RunNgctl(Args({"-o", "wide", "status"}));
  EXPECT_NE(wide.out.find("counter xdp_packets"), std::string::npos) << wide.out;
}

TEST_F(NgctlTest, AlertsJsonOldestFirstWithFilters) {
  std::vector<int64_t> ids;
  for (int n = 0; n < 6; ++n) {
    Alert a = ApiHarness::MakeAlert(n);
    a.severity = n == 4 ? Severity::kCritical : Severity::kWarning;
    ids.push_back(h_.AddAlert(a));
  }
  CommandResult r = RunNgctl(Args({"alerts", "-o", "json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 6u);
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(IdOf(lines[i]), ids[i]);
  EXPECT_EQ(json::parse(lines[0]).at("severity"), "SEVERITY_WARNING");

  r = RunNgctl(Args({"alerts", "-o", "json", "--limit", "2"}));
  lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(IdOf(lines[0]), ids[4]);
  EXPECT_EQ(IdOf(lines[1]), ids[5]);

  r = RunNgctl(Args({"alerts", "-o", "json", "--src", "10.0.0.3"}));
  lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  EXPECT_EQ(IdOf(lines[0]), ids[3]);
  r = RunNgctl(Args({"alerts", "-o", "json", "--dst", "10.0.0.3"}));  // a source, not a dest
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");

  r = RunNgctl(Args({"alerts", "-o", "json", "--severity", "critical"}));
  lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(IdOf(lines[0]), ids[4]);

  // MakeAlert(n) is at 2023-11-14T22:13:20Z + n s.
  r = RunNgctl(Args({"alerts", "-o", "json", "--since", "2023-11-14T22:13:24Z"}));
  EXPECT_EQ(Lines(r.out).size(), 2u) << r.out << r.err;
  r = RunNgctl(Args({"alerts", "-o", "json", "--since", "1h", "--class", "PortScan"}));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
}

TEST_F(NgctlTest, AlertsTableIsAligned) {
  h_.AddAlert(ApiHarness::MakeAlert(1));
  Alert wide = ApiHarness::MakeAlert(2);
  wide.src_addr = "2001:db8::1234";
  h_.AddAlert(wide);
  const CommandResult r = RunNgctl(Args({"alerts"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  const size_t severity = lines[0].find("SEVERITY");
  const size_t destination = lines[0].find("DESTINATION");
  ASSERT_NE(severity, std::string::npos);
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].find("warning"), severity) << r.out;
    EXPECT_EQ(lines[i].find("192.0.2.1"), destination) << r.out;
  }
  EXPECT_NE(lines[2].find("[2001:db8::1234]:40000"), std::string::npos);
}

TEST_F(NgctlTest, AckAndFeedback) {
  const int64_t id = h_.AddAlert(ApiHarness::MakeAlert(1));
  CommandResult r = RunNgctl(Args({"ack", std::to_string(id), "--feedback", "fp", "-o", "json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json alert = json::parse(Lines(r.out).at(0));
  EXPECT_EQ(alert.at("acknowledged"), true);
  EXPECT_EQ(alert.at("feedback"), "FEEDBACK_FALSE_POSITIVE");

  r = RunNgctl(Args({"ack", "99999"}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("NOT_FOUND"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("99999"), std::string::npos) << r.err;
}

TEST_F(NgctlTest, UnreachableIsOneLineAndExitCode3) {
  const std::string socket = h_.dir() + "/nobody-here.sock";
  const auto start = std::chrono::steady_clock::now();
  const CommandResult r = RunNgctl({"--socket", socket, "status"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "");
  ASSERT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("ngctl: cannot reach netguardd at " + socket + ": ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("No such file or directory"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("is it running?"), std::string::npos) << r.err;

  const CommandResult tcp = RunNgctl({"--addr", "127.0.0.1:1", "--insecure", "status"});
  EXPECT_EQ(tcp.exit_code, 3);
  EXPECT_EQ(Lines(tcp.err).size(), 1u) << tcp.err;
}

TEST_F(NgctlTest, UsageErrorsExit2) {
  EXPECT_EQ(RunNgctl(Args({"alerts", "--since", "yesterday"})).exit_code, 2);
  EXPECT_EQ(RunNgctl(Args({"bogus"})).exit_code, 2);
  EXPECT_EQ(RunNgctl(Args({})).exit_code, 2);
  EXPECT_EQ(RunNgctl(Args({"block"})).exit_code, 2);
  EXPECT_EQ(RunNgctl(Args({"block", "10.0.0.0/8", "--ttl", "soon"})).exit_code, 2);
  EXPECT_EQ(RunNgctl(Args({"-o", "yaml", "status"})).exit_code, 2);
  EXPECT_EQ(RunNgctl(Args({"ack", "1", "--feedback", "maybe"})).exit_code, 2);
  EXPECT_EQ(RunNgctl({"--help"}).exit_code, 0);
}

TEST_F(NgctlTest, FollowPrintsNewAlertsAndResumesAcrossARestart) {
  h_.AddAlert(ApiHarness::MakeAlert(1));
  const int64_t second = h_.AddAlert(ApiHarness::MakeAlert(2));
  Background ngctl(Args({"alerts", "-f", "-o", "json", "--limit", "1"}));
  std::string line = ngctl.ReadLine(std::chrono::seconds(10));
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(IdOf(line), second);

  const int64_t third = h_.AddAlert(ApiHarness::MakeAlert(3));
  line = ngctl.ReadLine(std::chrono::seconds(10));
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(IdOf(line), third);

  // The agent goes away; an alert is committed while ngctl is disconnected; it comes back.
  h_.StopServer();
  const int64_t fourth = h_.AddAlert(ApiHarness::MakeAlert(4));
  h_.RestartServer();
  const int64_t fifth = h_.AddAlert(ApiHarness::MakeAlert(5));
  line = ngctl.ReadLine(std::chrono::seconds(15));
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(IdOf(line), fourth);
  line = ngctl.ReadLine(std::chrono::seconds(10));
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(IdOf(line), fifth);
}

}  // namespace
}  // namespace netguard::testing
