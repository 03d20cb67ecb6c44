// Consumer of the data plane's ring buffer: flow start/end records and packet samples.
#ifndef NETGUARD_AGENT_CAPTURE_RING_READER_H_
#define NETGUARD_AGENT_CAPTURE_RING_READER_H_

#include <chrono>
#include <cstdint>
#include <functional>

#include "netguard.h"

struct ring_buffer;

namespace netguard::capture {

/// Callbacks for each record type; any may be empty (the record is then skipped).
struct RingHandlers {
  std::function<void(const ng_flow_event&)> on_flow_start;
  std::function<void(const ng_flow_event&)> on_flow_end;
  std::function<void(const ng_packet_sample&)> on_sample;
};

/// Reads records from the ring buffer map `ring_fd` and dispatches them by type. Records are
/// checked for type and size; a record that fits neither is counted in malformed().
class RingReader {
 public:
  RingReader(int ring_fd, RingHandlers handlers);
  ~RingReader();
  RingReader(const RingReader&) = delete;
  RingReader& operator=(const RingReader&) = delete;

  /// Waits up to `timeout` for a batch of records (the data plane wakes readers only once
  /// NG_RING_WAKEUP_BYTES are waiting), then dispatches every record in the ring. Returns the
  /// number of records consumed. Throws std::system_error on errors other than EINTR.
  int Poll(std::chrono::milliseconds timeout);

  /// Dispatches whatever is in the ring without waiting.
  int Drain();

  /// epoll fd that becomes readable when records arrive (for an external event loop).
  int epoll_fd() const;

  uint64_t malformed() const { return malformed_; }

 private:
  static int OnRecord(void* ctx, void* data, size_t size);

  RingHandlers handlers_;
  ring_buffer* ring_ = nullptr;
  uint64_t malformed_ = 0;
};

}  // namespace netguard::capture

#endif  // NETGUARD_AGENT_CAPTURE_RING_READER_H_
