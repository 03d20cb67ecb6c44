// pcap-file's fast path: a classic pcap file read through a memory map. Each record is handed to
// the sink where it lies in the file, so the capture is neither copied by read(2) into a stdio
// buffer nor again by libpcap into its packet buffer. On a capture of full-size packets those two
// copies cost more than the flow work itself (docs/benchmarks.md, offline_features).
//
// Only what libpcap would read the same way takes this path: a classic pcap file, version 2.4,
// either byte order, microsecond or nanosecond timestamps, Ethernet link type, on a system with
// mmap. Everything else (pcapng, older versions, other link types, standard input, pipes) goes
// to libpcap, which also words the errors of files it cannot open. Packets, timestamps, lengths
// and the errors of truncated or corrupt records are libpcap's (tests/features/
// mapped_pcap_test.cpp compares the two readers).
//
// The map covers the file's size when it is opened: a capture still growing is read up to that
// size, and one that shrinks while it is read makes the lost pages fault (SIGBUS), as with any
// mapped file.
#ifndef NETGUARD_AGENT_CAPTURE_PCAP_MAPPED_PCAP_H_
#define NETGUARD_AGENT_CAPTURE_PCAP_MAPPED_PCAP_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "capture/pcap/pcap_source.h"

namespace netguard::capture::pcap {

class MappedPcap {
 public:
  /// Maps `path` when it is a classic pcap file this reader takes (above); nullptr otherwise,
  /// including when it cannot be opened or mapped: libpcap then opens it and says why not.
  static std::unique_ptr<MappedPcap> Open(const std::string& path);
  ~MappedPcap();
  MappedPcap(const MappedPcap&) = delete;
  MappedPcap& operator=(const MappedPcap&) = delete;

  /// Delivers every record to `sink`, as PcapFileReader::ReadAll. A frame points into the map
  /// and is valid during OnPacket only (as libpcap's buffer). Errors are worded as libpcap's,
  /// after "`path`: packet N at byte offset O: ".
  ReadResult ReadAll(PacketSink& sink);

 private:
  MappedPcap(std::string path, const uint8_t* base, size_t size);

  /// Maps the next window ahead of `offset` in and the windows before it out, so that page
  /// faults come in batches and the process's resident set stays a few windows, not the file.
  void Advance(size_t offset);

  std::string path_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  bool swapped_ = false;      // written in the other byte order
  bool nanoseconds_ = false;  // timestamps' fraction in ns (else µs)
  uint32_t snapshot_ = 0;     // the file's snapshot length as libpcap adjusts it
  size_t populated_ = 0;      // bytes of the map faulted in ahead
  size_t unmapped_ = 0;       // bytes of the map given back behind
};

}  // namespace netguard::capture::pcap

#endif  // NETGUARD_AGENT_CAPTURE_PCAP_MAPPED_PCAP_H_
