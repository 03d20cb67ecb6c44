// A throwaway two-namespace network for end-to-end tests on the real kernel.
//
//   sensor namespace                         peer namespace
//   +------------------+       veth          +-------------------------------+
//   | sensor_if        |<------------------->| peer_if                       |
//   | 10.77.X.1/24     |                     | 10.77.X.2/24  (source B)      |
//   +------------------+                     | 10.77.X.3/24  (source A, 2nd) |
//                                            +-------------------------------+
//
// X and every name derive from the pid, so parallel test processes never share anything. All
// traffic stays between these two namespaces. The destructor deletes both namespaces (which
// destroys the veth pair); stale ones left by a killed process are removed at construction.
#ifndef NETGUARD_TESTS_E2E_NETNS_LAB_H_
#define NETGUARD_TESTS_E2E_NETNS_LAB_H_

#include <netinet/in.h>

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace netguard::e2e {

/// Owner of one file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset();

 private:
  int fd_ = -1;
};

/// Runs argv[0] (searched in PATH, no shell) and returns its exit status (128 + signal when
/// killed); its stdout and stderr go to *output when given.
int RunCommand(const std::vector<std::string>& argv, std::string* output = nullptr);
/// RunCommand that throws std::runtime_error with the command's output when it fails.
void RunCommandOrThrow(const std::vector<std::string>& argv);

/// Moves the calling thread into the network namespace `ns_fd` and back on destruction.
/// (setns(CLONE_NEWNET) affects the calling thread only.)
class ScopedNetns {
 public:
  explicit ScopedNetns(int ns_fd);
  ~ScopedNetns();
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;

 private:
  Fd original_;
};

/// Runs fn() on a new thread inside the network namespace `ns_fd` and returns its result;
/// an exception thrown by fn is rethrown here.
template <typename Fn>
auto RunInNetns(int ns_fd, Fn&& fn) -> std::invoke_result_t<Fn&> {
  using Result = std::invoke_result_t<Fn&>;
  std::exception_ptr error;
  if constexpr (std::is_void_v<Result>) {
    std::thread([&] {
      try {
        ScopedNetns in(ns_fd);
        fn();
      } catch (...) {
        error = std::current_exception();
      }
    }).join();
    if (error) std::rethrow_exception(error);
  } else {
    std::optional<Result> result;
    std::thread([&] {
      try {
        ScopedNetns in(ns_fd);
        result.emplace(fn());
      } catch (...) {
        error = std::current_exception();
      }
    }).join();
    if (error) std::rethrow_exception(error);
    return std::move(*result);
  }
}

/// A socket created inside the network namespace `ns_fd` (it stays there whoever uses it).
Fd SocketIn(int ns_fd, int domain, int type, int protocol);

/// Turns off the offloads that merge or split packets (TSO, GSO, GRO, checksum, scatter-gather)
/// on `ifname` in `ns_fd`, through the ethtool ioctl. Throws std::system_error. (TCP still
/// hands GSO super-packets to TC egress unless the device's gso_max_segs is 1: NetnsLab sets
/// both, so each packet on the wire is one packet in the BPF programs.)
void DisableOffloads(int ns_fd, const std::string& ifname);

/// Interface index of `ifname` in `ns_fd`. Throws std::system_error.
int IfIndexIn(int ns_fd, const std::string& ifname);

/// The XDP program attached to `ifname` in `ns_fd`: id 0 when none; mode is XDP_ATTACHED_*.
struct XdpState {
  uint32_t prog_id = 0;
  uint8_t attach_mode = 0;
};
XdpState QueryXdp(int ns_fd, const std::string& ifname);

/// Id of the TC egress filter program with `handle` and `priority` on `ifname` in `ns_fd`,
/// 0 when there is none.
uint32_t QueryTcEgress(int ns_fd, const std::string& ifname, uint32_t handle, uint32_t priority);

/// A named network namespace (ip netns add): /run/netns/<name>, deleted on destruction.
class NamedNetns {
 public:
  explicit NamedNetns(std::string name);
  ~NamedNetns();
  NamedNetns(const NamedNetns&) = delete;
  NamedNetns& operator=(const NamedNetns&) = delete;

  const std::string& name() const { return name_; }
  int fd() const { return fd_.get(); }
  std::string path() const { return "/run/netns/" + name_; }

 private:
  std::string name_;
  Fd fd_;
};

/// The sensor/peer pair of namespaces joined by a veth pair; see the file comment.
class NetnsLab {
 public:
  NetnsLab();
  ~NetnsLab() = default;
  NetnsLab(const NetnsLab&) = delete;
  NetnsLab& operator=(const NetnsLab&) = delete;

  /// Prefix of every name this process creates: "nge2e-<pid>".
  static std::string Tag();
  /// Deletes namespaces, bpffs pin directories and /tmp logs named nge2e-<pid>-* whose process
  /// is gone (left by a killed test run).
  static void RemoveStale();

  const NamedNetns& sensor() const { return sensor_; }
  const NamedNetns& peer() const { return peer_; }
  const std::string& sensor_if() const { return sensor_if_; }
  const std::string& peer_if() const { return peer_if_; }

  /// Sensor address, and the two peer addresses: B (primary) and A (secondary).
  const std::string& sensor_ip() const { return sensor_ip_; }
  const std::string& peer_ip_b() const { return peer_ip_b_; }
  const std::string& peer_ip_a() const { return peer_ip_a_; }

 private:
  bool swept_;  // RemoveStale() ran: first, before any namespace is created
  std::string sensor_ip_;
  std::string peer_ip_b_;
  std::string peer_ip_a_;
  std::string sensor_if_;
  std::string peer_if_;
  NamedNetns sensor_;
  NamedNetns peer_;
};

/// A bpffs directory for pinned maps, /sys/fs/bpf/nge2e-<pid>-<suffix>: a leftover of the same
/// name is removed at construction, the directory and everything pinned in it on destruction.
class PinDir {
 public:
  explicit PinDir(const std::string& suffix);
  ~PinDir();
  PinDir(const PinDir&) = delete;
  PinDir& operator=(const PinDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// IPv4 address from dotted text (throws std::invalid_argument).
in_addr Ipv4(const std::string& text);

}  // namespace netguard::e2e

#endif  // NETGUARD_TESTS_E2E_NETNS_LAB_H_
