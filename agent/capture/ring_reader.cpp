#include "capture/ring_reader.h"

#include <bpf/libbpf.h>

#include <cerrno>

#include "common/system_error.h"

namespace netguard::capture {

RingReader::RingReader(int ring_fd, RingHandlers handlers) : handlers_(std::move(handlers)) {
  ring_ = ring_buffer__new(ring_fd, &RingReader::OnRecord, this, nullptr);
  if (!ring_) ThrowErrno(errno, "open ring buffer");
}

RingReader::~RingReader() { ring_buffer__free(ring_); }

int RingReader::OnRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<RingReader*>(ctx);
  if (size < sizeof(ng_record_hdr)) {
    ++self->malformed_;
    return 0;
  }
  const auto* hdr = static_cast<const ng_record_hdr*>(data);
  switch (hdr->type) {
    case NG_REC_FLOW_START:
    case NG_REC_FLOW_END: {
      if (size < sizeof(ng_flow_event)) break;
      const auto& event = *static_cast<const ng_flow_event*>(data);
      const auto& handler = hdr->type == NG_REC_FLOW_START ? self->handlers_.on_flow_start
                                                           : self->handlers_.on_flow_end;
      if (handler) handler(event);
      return 0;
    }
    case NG_REC_PACKET:
      if (size < sizeof(ng_packet_sample)) break;
      if (self->handlers_.on_sample) {
        self->handlers_.on_sample(*static_cast<const ng_packet_sample*>(data));
      }
      return 0;
  }
  ++self->malformed_;
  return 0;
}

int RingReader::Poll(std::chrono::milliseconds timeout) {
  int n = ring_buffer__poll(ring_, static_cast<int>(timeout.count()));
  if (n == -EINTR) n = 0;
  CheckErrno(n, "poll ring buffer");
  // The data plane wakes readers only for batches; whatever arrived below that is read here.
  return n + Drain();
}

int RingReader::Drain() { return CheckErrno(ring_buffer__consume(ring_), "drain ring buffer"); }

int RingReader::epoll_fd() const { return ring_buffer__epoll_fd(ring_); }

}  // namespace netguard::capture
