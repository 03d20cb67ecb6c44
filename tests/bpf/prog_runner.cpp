#include "bpf/prog_runner.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

namespace netguard::testing {
namespace {

constexpr uint32_t kMetaBytes = sizeof(uint64_t);

[[noreturn]] void Fail(int err, const char* hook, size_t frame_len) {
  throw std::system_error(
      err, std::generic_category(),
      std::string("BPF_PROG_RUN ") + hook + " (frame " + std::to_string(frame_len) + " B)");
}

}  // namespace

uint32_t RunXdp(int prog_fd, std::span<const uint8_t> frame, uint64_t ts_ns, uint32_t repeat) {
  // data_in = metadata (the timestamp, host order) followed by the frame; ctx->data marks where
  // the frame starts, so the kernel exposes the first 8 bytes as data_meta.
  std::vector<uint8_t> data(kMetaBytes + frame.size());
  std::memcpy(data.data(), &ts_ns, kMetaBytes);
  if (!frame.empty()) std::memcpy(data.data() + kMetaBytes, frame.data(), frame.size());

  xdp_md ctx{};
  ctx.data = kMetaBytes;
  ctx.data_end = static_cast<uint32_t>(data.size());

  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = data.data();
  opts.data_size_in = static_cast<uint32_t>(data.size());
  opts.ctx_in = &ctx;
  opts.ctx_size_in = sizeof(ctx);
  opts.repeat = static_cast<int>(repeat);
  if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) Fail(errno, "XDP", frame.size());
  return opts.retval;
}

uint32_t RunTc(int prog_fd, std::span<const uint8_t> frame, uint64_t ts_ns, uint32_t repeat) {
  // convert___skb_to_skb() accepts mark, priority, ingress_ifindex, ifindex, cb, tstamp,
  // wire_len, gso_segs, gso_size and hwtstamp and requires every other byte to be zero.
  // ifindex 0 or 1 runs the skb on the loopback device; wire_len 0 means "the frame length".
  __sk_buff ctx{};
  ctx.tstamp = ts_ns;

  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<uint32_t>(frame.size());
  opts.ctx_in = &ctx;
  opts.ctx_size_in = sizeof(ctx);
  opts.repeat = static_cast<int>(repeat);
  if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) Fail(errno, "TC", frame.size());
  return opts.retval;
}

}  // namespace netguard::testing
