// libpcap capture backends: pcap-file (pcap and pcapng, offline) and pcap-live (any interface,
// optional BPF filter). Both hand frames with capture timestamps to a PacketSink, typically a
// FlowTable. Only libpcap (or Npcap) is needed: no Linux-only headers.
#ifndef NETGUARD_AGENT_CAPTURE_PCAP_PCAP_SOURCE_H_
#define NETGUARD_AGENT_CAPTURE_PCAP_PCAP_SOURCE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

#include "capture/pcap/flow_table.h"

struct pcap;

namespace netguard::capture::pcap {

/// A capture could not be opened or configured (missing file, unsupported link type, bad
/// filter, no permission).
class PcapError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Receives captured frames in capture order.
class PacketSink {
 public:
  virtual ~PacketSink() = default;
  /// `frame` holds the captured bytes from the Ethernet header on, valid during the call only;
  /// `wire_len` is the length on the wire, `ts_ns` the capture time in ns since the Unix epoch.
  virtual void OnPacket(std::span<const uint8_t> frame, uint32_t wire_len, uint64_t ts_ns) = 0;
};

/// Feeds every packet to a FlowTable.
class FlowTableSink final : public PacketSink {
 public:
  explicit FlowTableSink(FlowTable& table) : table_(table) {}
  void OnPacket(std::span<const uint8_t> frame, uint32_t wire_len, uint64_t ts_ns) override {
    table_.AddFrame(frame, wire_len, ts_ns);
  }

 private:
  FlowTable& table_;
};

/// How reading a capture file ended.
struct ReadResult {
  uint64_t packets = 0;       // packets delivered to the sink
  uint64_t last_ts_ns = 0;    // capture time of the last packet delivered
  bool ok = true;             // false: the file is truncated or corrupt after `packets` packets
  std::string error;          // e.g. "capture.pcap: packet 1204 at byte offset 881120: truncated
                              // dump file; tried to read 1514 captured bytes, only got 320"
  uint64_t error_packet = 0;  // 1-based index of the packet that could not be read
  int64_t error_offset = -1;  // file offset where that record starts (-1: unknown, e.g. stdin)

  /// Reading `path` stopped at the record after the packets delivered, which starts at `offset`
  /// (-1: unknown), because of `why`.
  void Fail(const std::string& path, int64_t offset, const std::string& why);
};

class MappedPcap;

/// How PcapFileReader reads a file.
enum class FileAccess {
  kFastest,  // a memory map when the file allows it (MappedPcap), else libpcap
  kLibpcap,  // always libpcap (tests compare the two)
};

/// pcap-file: a pcap or pcapng file (libpcap detects which), Ethernet link type only, with
/// nanosecond timestamps where the file has them. A classic pcap file is mapped and read in
/// place (MappedPcap), with libpcap's results; anything else, and "-" (standard input), is read
/// by libpcap.
class PcapFileReader {
 public:
  /// Opens `path`. Throws PcapError when it cannot be opened or its link type is not Ethernet
  /// (DLT_EN10MB); the message names the file and the link type.
  explicit PcapFileReader(const std::string& path, FileAccess access = FileAccess::kFastest);
  ~PcapFileReader();
  PcapFileReader(const PcapFileReader&) = delete;
  PcapFileReader& operator=(const PcapFileReader&) = delete;

  /// Delivers every packet to `sink` until the end of the file or the first record that cannot
  /// be read. Does not throw on corrupt data: the result says where reading stopped, and every
  /// packet before it has been delivered.
  ReadResult ReadAll(PacketSink& sink);

  const std::string& path() const { return path_; }

 private:
  /// File offset where the record after the first `good_packets` packets starts, or -1.
  int64_t RecordOffset(uint64_t good_packets) const;

  std::string path_;
  std::unique_ptr<MappedPcap> mapped_;   // set: the file is read through it, not handle_
  std::unique_ptr<char[]> read_buffer_;  // the stdio buffer of the file, outlives handle_
  ::pcap* handle_ = nullptr;
};

/// Settings of a live capture.
struct LiveOptions {
  std::string interface;  // any interface libpcap lists ("any" on Linux)
  std::string filter;     // BPF filter expression (tcpdump syntax); empty = everything
  int snaplen = 262144;
  bool promiscuous = true;
  std::chrono::milliseconds read_timeout{100};  // also the sweep tick when traffic stops
  int buffer_bytes = 16 << 20;
};

/// pcap-live: captures from an interface (pcap_create/pcap_activate) until Stop().
class PcapLiveCapture {
 public:
  /// Opens and activates the capture and installs the filter. Throws PcapError with libpcap's
  /// reason (no such device, permission denied, filter syntax error, non-Ethernet link).
  explicit PcapLiveCapture(LiveOptions options);
  ~PcapLiveCapture();
  PcapLiveCapture(const PcapLiveCapture&) = delete;
  PcapLiveCapture& operator=(const PcapLiveCapture&) = delete;

  /// Captures into `sink` until Stop() or a capture error (thrown as PcapError). `on_idle`, if
  /// set, is called with the wall-clock time after every read timeout or batch, so the caller
  /// can sweep flows (FlowTable::Sweep) while traffic is quiet.
  void Run(PacketSink& sink, void (*on_idle)(void* ctx, uint64_t now_ns) = nullptr,
           void* ctx = nullptr);
  /// Makes Run() return; callable from any thread or a signal handler.
  void Stop();

  /// Packets received and dropped by the kernel/driver so far (pcap_stats).
  struct Counters {
    uint64_t received = 0;
    uint64_t dropped = 0;
    uint64_t if_dropped = 0;
  };
  Counters counters() const;

 private:
  LiveOptions options_;
  ::pcap* handle_ = nullptr;
  std::atomic<bool> stop_{false};
};

}  // namespace netguard::capture::pcap

#endif  // NETGUARD_AGENT_CAPTURE_PCAP_PCAP_SOURCE_H_
