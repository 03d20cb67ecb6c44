// End to end with the real daemon binary: netguardd runs in the sensor namespace, is killed
// (fail-open: the XDP program and the pinned blocklist stay in the kernel), restarted (it
// replaces the stale program and reuses the pinned blocklist) and stopped (it detaches and
// leaves the pinned maps).
#include <bpf/bpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "capture/blocklist.h"
#include "capture/bpf_stats.h"
#include "common/ip_prefix.h"
#include "netns_lab.h"
#include "traffic.h"

#ifndef NETGUARDD_PATH
#error "NETGUARDD_PATH must name the netguardd binary"
#endif

namespace netguard::e2e {
namespace {

using capture::Blocklist;

constexpr milliseconds kDaemonStart{10000};  // BPF load + verification on a busy 2-core box
// The daemon's TC filter identity (agent/capture/ebpf_dataplane.cpp: "NG").
constexpr uint32_t kTcHandle = 0x4e47;
constexpr uint32_t kTcPriority = 0x4e47;
constexpr uint32_t kUdpFrameOverhead = 14 + 20 + 8;

/// netguardd started in a network namespace (fork, setns, exec: the mount namespace stays the
/// caller's, so the daemon sees the real /sys/fs/bpf). SIGKILLed and reaped on destruction if
/// still running; it also dies with this process (PR_SET_PDEATHSIG).
class Daemon {
 public:
  Daemon(int ns_fd, const std::vector<std::string>& args, const std::string& log_path) {
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(NETGUARDD_PATH));
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    Fd log(open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!log.valid()) throw std::system_error(errno, std::generic_category(), log_path);
    Fd null_in(open("/dev/null", O_RDONLY | O_CLOEXEC));
    const pid_t parent = getpid();

    pid_ = fork();
    if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid_ == 0) {
      // Child of a multithreaded process: async-signal-safe calls only, then exec.
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(120);
      if (setns(ns_fd, CLONE_NEWNET) != 0) _exit(121);
      if (dup2(null_in.get(), STDIN_FILENO) < 0 || dup2(log.get(), STDOUT_FILENO) < 0 ||
          dup2(log.get(), STDERR_FILENO) < 0) {
        _exit(122);
      }
      syscall(SYS_close_range, 3u, ~0u, 0u);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }

  ~Daemon() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }

  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  void Signal(int sig) const {
    if (pid_ > 0) kill(pid_, sig);
  }

  /// Wait status once the daemon exited (reaped), or nullopt if it still runs after `timeout`.
  std::optional<int> WaitExit(milliseconds timeout = kWait) {
    if (pid_ <= 0) return status_;
    WaitFor(
        [&] {
          if (pid_ <= 0) return true;
          int status = 0;
          if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
          status_ = status;
          pid_ = -1;
          return true;
        },
        timeout);
    return status_;
  }

  bool running() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// Kernel id of the map pinned at `path` (0 when it cannot be read): equal ids are one map.
uint32_t PinnedMapId(const std::string& path) {
  Fd fd(bpf_obj_get(path.c_str()));
  if (!fd.valid()) return 0;
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) return 0;
  return info.id;
}

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

class DaemonE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: network namespaces, BPF programs";
    ASSERT_TRUE(std::filesystem::exists(NETGUARDD_PATH)) << NETGUARDD_PATH;
    lab_ = std::make_unique<NetnsLab>();
    pins_ = std::make_unique<PinDir>("daemon");
    state_ = "/tmp/" + NetnsLab::Tag() + "-state";
    std::filesystem::create_directories(state_);
  }

  void TearDown() override {
    daemons_.clear();  // SIGKILL whatever still runs
    for (const std::string& path : logs_) {
      if (HasFailure()) {
        std::ifstream in(path);
        std::cerr << "---- " << path << " ----\n" << in.rdbuf() << "\n";
      }
      std::error_code ec;
      std::filesystem::remove(path, ec);
    }
    std::error_code ec;
    std::filesystem::remove_all(state_, ec);
    pins_.reset();
    lab_.reset();
  }

  Daemon& StartDaemon() {
    const std::string log =
        "/tmp/" + NetnsLab::Tag() + "-netguardd-" + std::to_string(daemons_.size() + 1) + ".log";
    logs_.push_back(log);
    daemons_.push_back(std::make_unique<Daemon>(
        lab_->sensor().fd(),
        std::vector<std::string>{"-i", lab_->sensor_if(), "--bpf-pin-dir", pins_->path(), "--store",
                                 state_ + "/netguard.db", "--socket", state_ + "/netguard.sock"},
        log));
    return *daemons_.back();
  }

  XdpState Xdp() const { return QueryXdp(lab_->sensor().fd(), lab_->sensor_if()); }
  uint32_t TcEgress() const {
    return QueryTcEgress(lab_->sensor().fd(), lab_->sensor_if(), kTcHandle, kTcPriority);
  }

  std::unique_ptr<NetnsLab> lab_;
  std::unique_ptr<PinDir> pins_;
  std::string state_;  // store and socket of the daemons
  std::vector<std::unique_ptr<Daemon>> daemons_;
  std::vector<std::string> logs_;
};

TEST_F(DaemonE2eTest, FailsOpenWhenKilledAndReusesPinnedBlocklistAfterRestart) {
  const int sensor = lab_->sensor().fd();
  const int peer = lab_->peer().fd();
  Fd server = BoundSocket(sensor, SOCK_DGRAM, lab_->sensor_ip(), 0);
  Fd from_a = BoundSocket(peer, SOCK_DGRAM, lab_->peer_ip_a(), 0);
  Fd from_b = BoundSocket(peer, SOCK_DGRAM, lab_->peer_ip_b(), 0);
  const uint16_t port = LocalPort(server.get());
  const IpPrefix a32 = IpPrefix::Parse(lab_->peer_ip_a() + "/32");

  // Without NetGuard both sources get through (this also resolves the neighbours).
  ASSERT_EQ(UdpRoundTrip(from_a.get(), server.get(), lab_->sensor_ip(), port, 10), "");
  ASSERT_EQ(UdpRoundTrip(from_b.get(), server.get(), lab_->sensor_ip(), port, 10), "");

  // ---- first daemon: attaches; a /32 block goes into its pinned blocklist ----
  Daemon& first = StartDaemon();
  uint32_t first_prog = 0;
  uint32_t first_tc = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        if (first.WaitExit(milliseconds(0))) return true;  // died: stop waiting
        first_prog = Xdp().prog_id;
        first_tc = TcEgress();
        return first_prog != 0 && first_tc != 0;
      },
      kDaemonStart))
      << "netguardd did not attach XDP and TC to " << lab_->sensor_if();
  ASSERT_TRUE(first.running()) << "netguardd exited: " << DescribeStatus(*first.WaitExit());
  EXPECT_EQ(Xdp().attach_mode, XDP_ATTACHED_DRV);
  std::optional<Blocklist> blocklist;
  blocklist.emplace(Blocklist::OpenPinned(pins_->path()));
  blocklist->Add(a32);
  const std::string pinned_v4 = pins_->path() + "/ng_block_v4";
  const uint32_t blocklist_id = PinnedMapId(pinned_v4);
  ASSERT_NE(blocklist_id, 0u);

  uint64_t sent_a = 0;
  uint64_t bytes_a = 0;
  // Sends `count` datagrams from A (all must be dropped and counted in the pinned entry) and
  // one echo from B (must pass both ways).
  const auto expect_a_dropped_b_passes = [&](size_t count) {
    for (size_t i = 0; i < count; ++i) {
      const size_t size = 20 + i;
      ASSERT_TRUE(SendDatagram(from_a.get(), lab_->sensor_ip(), port, size));
      ++sent_a;
      bytes_a += kUdpFrameOverhead + size;
    }
    ASSERT_TRUE(WaitFor([&] {
      std::optional<capture::BlockEntry> e = blocklist->Get(a32);
      return e && e->packets >= sent_a;
    })) << "drops of "
        << a32.ToString() << " not counted";
    ASSERT_EQ(UdpRoundTrip(from_b.get(), server.get(), lab_->sensor_ip(), port, 64), "");
    const std::optional<capture::BlockEntry> e = blocklist->Get(a32);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->packets, sent_a);
    EXPECT_EQ(e->bytes, bytes_a);
    std::string data;
    EXPECT_FALSE(RecvDatagram(server.get(), &data, milliseconds(0)).has_value())
        << "a datagram of the blocked source arrived";
  };
  {
    SCOPED_TRACE("daemon running");
    ASSERT_NO_FATAL_FAILURE(expect_a_dropped_b_passes(10));
  }

  // ---- SIGKILL: no cleanup runs; the netlink-attached program keeps filtering ----
  first.Signal(SIGKILL);
  std::optional<int> status = first.WaitExit();
  ASSERT_TRUE(status.has_value()) << "netguardd survived SIGKILL";
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) << DescribeStatus(*status);
  EXPECT_EQ(Xdp().prog_id, first_prog) << "the XDP program must outlive the killed daemon";
  EXPECT_NE(TcEgress(), 0u);
  {
    SCOPED_TRACE("daemon killed (fail-open, pinned blocklist still enforced)");
    ASSERT_NO_FATAL_FAILURE(expect_a_dropped_b_passes(7));
  }

  // ---- a new daemon replaces the stale program and reuses the pinned blocklist ----
  Daemon& second = StartDaemon();
  ASSERT_TRUE(WaitFor(
      [&] {
        if (second.WaitExit(milliseconds(0))) return true;  // died: stop waiting
        const uint32_t xdp = Xdp().prog_id;
        const uint32_t tc = TcEgress();
        return xdp != 0 && xdp != first_prog && tc != 0 && tc != first_tc;
      },
      kDaemonStart))
      << "the second netguardd did not replace XDP program " << first_prog << " and TC program "
      << first_tc;
  ASSERT_TRUE(second.running()) << "netguardd exited: " << DescribeStatus(*second.WaitExit());
  EXPECT_EQ(Xdp().attach_mode, XDP_ATTACHED_DRV);
  EXPECT_EQ(PinnedMapId(pinned_v4), blocklist_id) << "the new daemon must reuse the pinned map";
  {
    SCOPED_TRACE("daemon restarted (same pinned entry keeps counting)");
    ASSERT_NO_FATAL_FAILURE(expect_a_dropped_b_passes(5));
  }
  // The pinned statistics carried over too: every drop of the three phases.
  {
    Fd stats(bpf_obj_get((pins_->path() + "/ng_stats").c_str()));
    ASSERT_TRUE(stats.valid()) << std::strerror(errno);
    const capture::StatCounters counters = capture::ReadStats(stats.get());
    EXPECT_EQ(counters[NG_STAT_XDP_DROPPED], sent_a);
    EXPECT_EQ(counters[NG_STAT_XDP_DROPPED_BYTES], bytes_a);
  }

  // ---- SIGTERM: clean exit, detached, pinned maps left for the next agent ----
  second.Signal(SIGTERM);
  status = second.WaitExit();
  ASSERT_TRUE(status.has_value()) << "netguardd did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << DescribeStatus(*status);
  EXPECT_EQ(Xdp().prog_id, 0u) << "XDP program left attached after SIGTERM";
  EXPECT_EQ(TcEgress(), 0u) << "TC egress filter left attached after SIGTERM";
  for (const char* name : {"ng_block_v4", "ng_block_v6", "ng_stats"}) {
    EXPECT_TRUE(std::filesystem::exists(pins_->path() + "/" + name)) << name << " not pinned";
  }
  EXPECT_EQ(PinnedMapId(pinned_v4), blocklist_id);
  blocklist.reset();
  const Blocklist reopened = Blocklist::OpenPinned(pins_->path());
  const std::optional<capture::BlockEntry> kept = reopened.Get(a32);
  ASSERT_TRUE(kept.has_value()) << "the pinned block did not survive the daemon";
  EXPECT_EQ(kept->packets, sent_a);
  // Nothing attached any more: A's traffic passes although its block is still pinned.
  EXPECT_EQ(UdpRoundTrip(from_a.get(), server.get(), lab_->sensor_ip(), port, 10), "");
}

}  // namespace
}  // namespace netguard::e2e
