#include "netns_lab.h"

#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>

extern char** environ;

namespace netguard::e2e {
namespace {

constexpr char kBpfFsRoot[] = "/sys/fs/bpf";
constexpr char kNetnsRoot[] = "/run/netns";
constexpr char kLogRoot[] = "/tmp";  // daemon logs of daemon_e2e_test.cpp

[[noreturn]] void ThrowErrno(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

std::string Join(const std::vector<std::string>& argv) {
  std::string text;
  for (const std::string& arg : argv) text += (text.empty() ? "" : " ") + arg;
  return text;
}

// Writes `value` to a sysctl file of the namespace the calling thread is in.
void WriteSysctl(const std::string& path, const std::string& value) {
  std::ofstream file(path);
  file << value;
  file.close();
  if (!file) throw std::runtime_error("cannot write " + value + " to " + path);
}

// pid in a name "nge2e-<pid>-...", or 0 when the name is not one of ours.
pid_t OwnerPid(const std::string& name) {
  constexpr std::string_view kPrefix = "nge2e-";
  if (name.rfind(kPrefix, 0) != 0) return 0;
  size_t pos = kPrefix.size();
  pid_t pid = 0;
  while (pos < name.size() && name[pos] >= '0' && name[pos] <= '9') {
    pid = pid * 10 + (name[pos] - '0');
    ++pos;
  }
  if (pos == kPrefix.size() || pos >= name.size() || name[pos] != '-') return 0;
  return pid;
}

bool ProcessGone(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

std::vector<std::string> DirEntries(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

}  // namespace

void Fd::Reset() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

int RunCommand(const std::vector<std::string>& argv, std::string* output) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) ThrowErrno(errno, "pipe");
  Fd read_end(pipe_fds[0]);
  Fd write_end(pipe_fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) ThrowErrno(rc, "spawn " + Join(argv));
  write_end.Reset();

  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = read(read_end.get(), buf, sizeof(buf));
    if (n > 0) {
      text.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (output) *output = std::move(text);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

void RunCommandOrThrow(const std::vector<std::string>& argv) {
  std::string output;
  int status = RunCommand(argv, &output);
  if (status != 0) {
    throw std::runtime_error("'" + Join(argv) + "' failed (" + std::to_string(status) +
                             "): " + output);
  }
}

ScopedNetns::ScopedNetns(int ns_fd) : original_(open("/proc/thread-self/ns/net", O_RDONLY)) {
  if (!original_.valid()) ThrowErrno(errno, "open own network namespace");
  if (setns(ns_fd, CLONE_NEWNET) != 0) ThrowErrno(errno, "setns into network namespace");
}

ScopedNetns::~ScopedNetns() {
  if (setns(original_.get(), CLONE_NEWNET) != 0) {
    // Staying in a test namespace would make later tests act on the wrong network: stop here.
    std::perror("ScopedNetns: cannot return to the original network namespace");
    std::abort();
  }
}

Fd SocketIn(int ns_fd, int domain, int type, int protocol) {
  return RunInNetns(ns_fd, [&] {
    Fd fd(socket(domain, type | SOCK_CLOEXEC, protocol));
    if (!fd.valid()) ThrowErrno(errno, "socket");
    return fd;
  });
}

void DisableOffloads(int ns_fd, const std::string& ifname) {
  Fd sock = SocketIn(ns_fd, AF_INET, SOCK_DGRAM, 0);
  // Legacy per-feature commands: each maps to one netdev feature; order matters little since
  // the kernel re-derives dependent features (TSO needs SG and checksumming) after each.
  constexpr uint32_t kOff[] = {ETHTOOL_STSO, ETHTOOL_SGSO, ETHTOOL_SGRO, ETHTOOL_STXCSUM,
                               ETHTOOL_SSG};
  for (uint32_t cmd : kOff) {
    ethtool_value value{.cmd = cmd, .data = 0};
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    ifr.ifr_data = reinterpret_cast<char*>(&value);
    if (ioctl(sock.get(), SIOCETHTOOL, &ifr) != 0) {
      ThrowErrno(errno, "ethtool command " + std::to_string(cmd) + " on " + ifname);
    }
  }
  // Read back: anything still on would merge or split packets.
  constexpr uint32_t kGet[] = {ETHTOOL_GTSO, ETHTOOL_GGSO, ETHTOOL_GGRO, ETHTOOL_GTXCSUM};
  for (uint32_t cmd : kGet) {
    ethtool_value value{.cmd = cmd, .data = 1};
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    ifr.ifr_data = reinterpret_cast<char*>(&value);
    if (ioctl(sock.get(), SIOCETHTOOL, &ifr) != 0) {
      ThrowErrno(errno, "ethtool command " + std::to_string(cmd) + " on " + ifname);
    }
    if (value.data != 0) {
      throw std::runtime_error("offload " + std::to_string(cmd) + " still on for " + ifname);
    }
  }
}

int IfIndexIn(int ns_fd, const std::string& ifname) {
  return RunInNetns(ns_fd, [&] {
    unsigned index = if_nametoindex(ifname.c_str());
    if (index == 0) ThrowErrno(errno, "interface " + ifname);
    return static_cast<int>(index);
  });
}

XdpState QueryXdp(int ns_fd, const std::string& ifname) {
  return RunInNetns(ns_fd, [&] {
    const unsigned index = if_nametoindex(ifname.c_str());
    if (index == 0) ThrowErrno(errno, "interface " + ifname);
    LIBBPF_OPTS(bpf_xdp_query_opts, query);
    if (int rc = bpf_xdp_query(static_cast<int>(index), 0, &query); rc < 0) {
      ThrowErrno(-rc, "query XDP on " + ifname);
    }
    return XdpState{.prog_id = query.prog_id, .attach_mode = query.attach_mode};
  });
}

uint32_t QueryTcEgress(int ns_fd, const std::string& ifname, uint32_t handle, uint32_t priority) {
  return RunInNetns(ns_fd, [&]() -> uint32_t {
    const unsigned index = if_nametoindex(ifname.c_str());
    if (index == 0) ThrowErrno(errno, "interface " + ifname);
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(index),
                .attach_point = BPF_TC_EGRESS);
    LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = priority);
    int rc = bpf_tc_query(&hook, &opts);
    if (rc == -ENOENT) return 0;  // no such filter
    if (rc == -EINVAL) return 0;  // no clsact qdisc ("Parent Qdisc doesn't exists")
    if (rc < 0) ThrowErrno(-rc, "query TC egress on " + ifname);
    return opts.prog_id;
  });
}

in_addr Ipv4(const std::string& text) {
  in_addr addr{};
  if (inet_pton(AF_INET, text.c_str(), &addr) != 1) {
    throw std::invalid_argument("not an IPv4 address: " + text);
  }
  return addr;
}

NamedNetns::NamedNetns(std::string name) : name_(std::move(name)) {
  // A namespace of the same name can only be a leftover of a dead process with our pid.
  if (std::filesystem::exists(path())) RunCommand({"ip", "netns", "delete", name_});
  RunCommandOrThrow({"ip", "netns", "add", name_});
  fd_ = Fd(open(path().c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd_.valid()) {
    int err = errno;
    RunCommand({"ip", "netns", "delete", name_});
    ThrowErrno(err, "open " + path());
  }
}

NamedNetns::~NamedNetns() {
  fd_.Reset();
  std::string output;
  if (RunCommand({"ip", "netns", "delete", name_}, &output) != 0) {
    std::fprintf(stderr, "warning: ip netns delete %s: %s\n", name_.c_str(), output.c_str());
  }
}

PinDir::PinDir(const std::string& suffix)
    : path_(std::string(kBpfFsRoot) + "/" + NetnsLab::Tag() + "-" + suffix) {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

PinDir::~PinDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  if (ec) std::fprintf(stderr, "warning: remove %s: %s\n", path_.c_str(), ec.message().c_str());
}

std::string NetnsLab::Tag() { return "nge2e-" + std::to_string(getpid()); }

void NetnsLab::RemoveStale() {
  for (const std::string& name : DirEntries(kNetnsRoot)) {
    pid_t owner = OwnerPid(name);
    if (owner > 0 && ProcessGone(owner)) RunCommand({"ip", "netns", "delete", name});
  }
  for (const char* root : {kBpfFsRoot, kLogRoot}) {
    for (const std::string& name : DirEntries(root)) {
      pid_t owner = OwnerPid(name);
      if (owner > 0 && ProcessGone(owner)) {
        std::error_code ec;
        std::filesystem::remove_all(std::string(root) + "/" + name, ec);
      }
    }
  }
}

namespace {
bool SweepStale() {
  NetnsLab::RemoveStale();
  return true;
}

// Third octet of the lab's 10.77.X.0/24, from the pid.
std::string Subnet() { return "10.77." + std::to_string(getpid() % 250 + 1) + "."; }
}  // namespace

NetnsLab::NetnsLab()
    : swept_(SweepStale()),
      sensor_ip_(Subnet() + "1"),
      peer_ip_b_(Subnet() + "2"),
      peer_ip_a_(Subnet() + "3"),
      sensor_if_("ngs" + std::to_string(getpid())),
      peer_if_("ngp" + std::to_string(getpid())),
      sensor_(Tag() + "-sensor"),
      peer_(Tag() + "-peer") {
  (void)swept_;
  // No IPv6 on these links: no DAD/RS/MLD chatter in the flow map, only the test's traffic.
  for (const NamedNetns* ns : {&sensor_, &peer_}) {
    RunInNetns(ns->fd(), [] {
      WriteSysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
      WriteSysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
    });
    RunCommandOrThrow({"ip", "-n", ns->name(), "link", "set", "lo", "up"});
  }
  // Created directly inside the namespaces: the names never exist in the caller's namespace.
  RunCommandOrThrow({"ip", "link", "add", sensor_if_, "netns", sensor_.name(), "type", "veth",
                     "peer", "name", peer_if_, "netns", peer_.name()});
  DisableOffloads(sensor_.fd(), sensor_if_);
  DisableOffloads(peer_.fd(), peer_if_);
  // The sensor keeps GSO on: TCP builds super-packets whatever the device features and they
  // are split only after TC egress, so the tests check that the data plane accounts them as the
  // wire segments they become. The peer sends wire-sized packets (XDP on a veth turns its
  // peer's GSO off anyway).
  RunCommandOrThrow({"ip", "-n", peer_.name(), "link", "set", peer_if_, "gso_max_segs", "1"});
  RunCommandOrThrow(
      {"ip", "-n", sensor_.name(), "addr", "add", sensor_ip_ + "/24", "dev", sensor_if_});
  RunCommandOrThrow({"ip", "-n", peer_.name(), "addr", "add", peer_ip_b_ + "/24", "dev", peer_if_});
  RunCommandOrThrow({"ip", "-n", peer_.name(), "addr", "add", peer_ip_a_ + "/24", "dev", peer_if_});
  RunCommandOrThrow({"ip", "-n", sensor_.name(), "link", "set", sensor_if_, "up"});
  RunCommandOrThrow({"ip", "-n", peer_.name(), "link", "set", peer_if_, "up"});
}

}  // namespace netguard::e2e
