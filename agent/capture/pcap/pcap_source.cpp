#include "capture/pcap/pcap_source.h"

#include <pcap/pcap.h>

#include <cstdio>
#include <string>

#include "capture/pcap/mapped_pcap.h"

namespace netguard::capture::pcap {
namespace {

std::string LinkTypeName(int dlt) {
  const char* name = pcap_datalink_val_to_name(dlt);
  return name ? std::string(name) + " (" + std::to_string(dlt) + ")" : std::to_string(dlt);
}

uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

constexpr size_t kReadBuffer = size_t{1} << 20;

uint64_t StampNs(const pcap_pkthdr& h) {
  // handles are opened with nanosecond precision: tv_usec holds nanoseconds
  return static_cast<uint64_t>(h.ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(h.ts.tv_usec);
}

}  // namespace

void ReadResult::Fail(const std::string& path, int64_t offset, const std::string& why) {
  ok = false;
  error_packet = packets + 1;
  error_offset = offset;
  error = path + ": packet " + std::to_string(error_packet) +
          (offset >= 0 ? " at byte offset " + std::to_string(offset) : std::string()) + ": " + why;
}

PcapFileReader::PcapFileReader(const std::string& path, FileAccess access) : path_(path) {
  if (access == FileAccess::kFastest && path != "-") mapped_ = MappedPcap::Open(path);
  if (mapped_) return;
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  // libpcap reads each record with fread: a large stdio buffer makes that one read(2) per
  // kReadBuffer bytes instead of one per 4 KiB page (a third of the time on big captures).
  FILE* file = path == "-" ? nullptr : std::fopen(path.c_str(), "rb");
  if (file) read_buffer_ = std::make_unique<char[]>(kReadBuffer);  // glibc ignores a size alone
  if (file && std::setvbuf(file, read_buffer_.get(), _IOFBF, kReadBuffer) != 0) {
    std::fclose(file);
    file = nullptr;
  }
  handle_ = file
                ? pcap_fopen_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, errbuf)
                : pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO,
                                                          errbuf);
  if (!handle_ && file) std::fclose(file);  // libpcap closes it only once it owns it
  if (!handle_) throw PcapError(path + ": cannot open capture: " + errbuf);
  const int dlt = pcap_datalink(handle_);
  if (dlt != DLT_EN10MB) {
    pcap_close(handle_);
    handle_ = nullptr;
    throw PcapError(path + ": unsupported link type " + LinkTypeName(dlt) +
                    ": only Ethernet (EN10MB) captures are supported");
  }
}

PcapFileReader::~PcapFileReader() {
  if (handle_) pcap_close(handle_);
}

ReadResult PcapFileReader::ReadAll(PacketSink& sink) {
  if (mapped_) return mapped_->ReadAll(sink);
  ReadResult result;
  for (;;) {
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    const int rc = pcap_next_ex(handle_, &header, &data);
    if (rc == PCAP_ERROR_BREAK) break;  // end of file
    if (rc != 1) {
      result.Fail(path_, RecordOffset(result.packets), pcap_geterr(handle_));
      break;
    }
    result.last_ts_ns = StampNs(*header);
    result.packets++;
    sink.OnPacket({data, header->caplen}, header->len, result.last_ts_ns);
  }
  return result;
}

int64_t PcapFileReader::RecordOffset(uint64_t good_packets) const {
  // Only after an error: a second handle reads the packets that were good, and its file
  // position is where the bad record starts (pcapng: possibly a non-packet block before it).
  // Asking the position of every record instead would cost a system call per packet.
  if (path_ == "-") return -1;  // standard input cannot be read twice
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  ::pcap* again = pcap_open_offline(path_.c_str(), errbuf);
  if (!again) return -1;
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  uint64_t read = 0;
  while (read < good_packets && pcap_next_ex(again, &header, &data) == 1) ++read;
  FILE* file = pcap_file(again);
  const int64_t offset = read == good_packets && file ? std::ftell(file) : -1;
  pcap_close(again);
  return offset;
}

PcapLiveCapture::PcapLiveCapture(LiveOptions options) : options_(std::move(options)) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  const std::string& dev = options_.interface;
  handle_ = pcap_create(dev.c_str(), errbuf);
  if (!handle_) throw PcapError(dev + ": cannot create capture: " + errbuf);
  auto fail = [&](const std::string& what) {
    std::string message = dev + ": " + what;
    pcap_close(handle_);
    handle_ = nullptr;
    throw PcapError(message);
  };
  pcap_set_snaplen(handle_, options_.snaplen);
  pcap_set_promisc(handle_, options_.promiscuous ? 1 : 0);
  pcap_set_timeout(handle_, static_cast<int>(options_.read_timeout.count()));
  pcap_set_buffer_size(handle_, options_.buffer_bytes);
  pcap_set_tstamp_precision(handle_, PCAP_TSTAMP_PRECISION_NANO);  // best effort
  const int rc = pcap_activate(handle_);
  if (rc < 0) fail(std::string("cannot activate capture: ") + pcap_geterr(handle_));
  if (pcap_get_tstamp_precision(handle_) != PCAP_TSTAMP_PRECISION_NANO)
    fail("capture does not support nanosecond timestamps");
  const int dlt = pcap_datalink(handle_);
  if (dlt != DLT_EN10MB)
    fail("unsupported link type " + LinkTypeName(dlt) + ": only Ethernet is supported");
  if (!options_.filter.empty()) {
    bpf_program program{};
    if (pcap_compile(handle_, &program, options_.filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
      fail("bad filter '" + options_.filter + "': " + pcap_geterr(handle_));
    const int set = pcap_setfilter(handle_, &program);
    pcap_freecode(&program);
    if (set != 0) fail(std::string("cannot install filter: ") + pcap_geterr(handle_));
  }
}

PcapLiveCapture::~PcapLiveCapture() {
  if (handle_) pcap_close(handle_);
}

void PcapLiveCapture::Run(PacketSink& sink, void (*on_idle)(void*, uint64_t), void* ctx) {
  struct Ctx {
    PacketSink* sink;
  } state{&sink};
  auto handler = [](u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
    reinterpret_cast<Ctx*>(user)->sink->OnPacket({bytes, h->caplen}, h->len, StampNs(*h));
  };
  while (!stop_.load(std::memory_order_relaxed)) {
    const int n = pcap_dispatch(handle_, -1, handler, reinterpret_cast<u_char*>(&state));
    if (n == PCAP_ERROR_BREAK) break;
    if (n < 0) throw PcapError(options_.interface + ": capture failed: " + pcap_geterr(handle_));
    if (on_idle) on_idle(ctx, NowNs());
  }
}

void PcapLiveCapture::Stop() {
  stop_.store(true, std::memory_order_relaxed);
  if (handle_) pcap_breakloop(handle_);
}

PcapLiveCapture::Counters PcapLiveCapture::counters() const {
  pcap_stat st{};
  if (pcap_stats(handle_, &st) != 0) return {};
  return {st.ps_recv, st.ps_drop, st.ps_ifdrop};
}

}  // namespace netguard::capture::pcap
