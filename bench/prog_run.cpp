// Copyright (c) NetGuard authors.

#include "prog_run.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace netguard::bench {

double MeasureNsPerPacket(int prog_fd, std::span<const uint8_t> frame, uint32_t repeat,
                          uint32_t* retval) {
  // LIBBPF_OPTS() relies on C compound literals; spell it out for C++.
  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<uint32_t>(frame.size());
  opts.repeat = static_cast<int>(repeat);  // Passed on to the kernel as a __u32 again.

  if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) {
    const int err = errno;
    throw std::system_error(err, std::generic_category(),
                            "bpf_prog_test_run_opts(prog_fd=" + std::to_string(prog_fd) +
                                ", frame=" + std::to_string(frame.size()) +
                                " B, repeat=" + std::to_string(repeat) + ")");
  }
  if (retval != nullptr) *retval = opts.retval;
  return static_cast<double>(opts.duration);
}

}  // namespace netguard::bench
