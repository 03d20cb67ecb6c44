#include "child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>

namespace netguard::e2e {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void ThrowErrno(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& args, const Options& options) {
  // Everything the child needs is prepared here: after fork() a multithreaded process may only
  // make async-signal-safe calls.
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  Fd null_in(open("/dev/null", O_RDONLY | O_CLOEXEC));
  Fd null_out(open("/dev/null", O_WRONLY | O_CLOEXEC));
  if (!null_in.valid() || !null_out.valid()) ThrowErrno(errno, "open /dev/null");
  Fd output;
  if (!options.output_path.empty()) {
    output = Fd(open(options.output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!output.valid()) ThrowErrno(errno, "open " + options.output_path);
  }
  Fd pipe_read;
  Fd pipe_write;
  if (options.pipe_stdout) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) ThrowErrno(errno, "pipe");
    pipe_read = Fd(fds[0]);
    pipe_write = Fd(fds[1]);
  }
  const int out_fd = options.pipe_stdout ? pipe_write.get()
                     : output.valid()    ? output.get()
                                         : null_out.get();
  const int err_fd = output.valid() ? output.get() : null_out.get();
  const int netns_fd = options.netns_fd;
  const pid_t parent = getpid();

  pid_ = fork();
  if (pid_ < 0) ThrowErrno(errno, "fork");
  if (pid_ == 0) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(120);
    if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) != 0) _exit(121);
    if (dup2(null_in.get(), STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
        dup2(err_fd, STDERR_FILENO) < 0) {
      _exit(122);
    }
    syscall(SYS_close_range, 3u, ~0u, 0u);
    execv(argv[0], argv.data());
    _exit(127);
  }
  stdout_ = std::move(pipe_read);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

void ChildProcess::Signal(int sig) const {
  if (pid_ > 0) kill(pid_, sig);
}

std::optional<int> ChildProcess::WaitExit(std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  while (pid_ > 0) {
    int status = 0;
    const pid_t rc = waitpid(pid_, &status, WNOHANG);
    if (rc == pid_) {
      status_ = status;
      pid_ = -1;
      break;
    }
    if (rc < 0 && errno != EINTR) {  // not our child any more: nothing to wait for
      pid_ = -1;
      break;
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status_;
}

bool ChildProcess::Running() {
  WaitExit(std::chrono::milliseconds(0));
  return pid_ > 0;
}

std::optional<std::string> ChildProcess::ReadLine(std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    if (const size_t eol = pending_.find('\n'); eol != std::string::npos) {
      std::string line = pending_.substr(0, eol);
      pending_.erase(0, eol + 1);
      return line;
    }
    if (!stdout_.valid()) return std::nullopt;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left < 0) return std::nullopt;
    pollfd p{.fd = stdout_.get(), .events = POLLIN, .revents = 0};
    const int ready = poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    char buf[4096];
    const ssize_t n = read(stdout_.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      stdout_.Reset();  // EOF: the child closed its stdout
      continue;
    }
    pending_.append(buf, static_cast<size_t>(n));
  }
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

}  // namespace netguard::e2e
