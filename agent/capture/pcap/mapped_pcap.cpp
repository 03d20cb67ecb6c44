#include "capture/pcap/mapped_pcap.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <utility>

#if __has_include(<sys/mman.h>) && __has_include(<unistd.h>)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define NETGUARD_HAVE_MMAP 1
#endif

namespace netguard::capture::pcap {
namespace {

// The savefile format (pcap-savefile(5)), as libpcap reads it.
constexpr uint32_t kMagicMicro = 0xa1b2c3d4;
constexpr uint32_t kMagicNano = 0xa1b23c4d;
constexpr size_t kFileHeader = 24;
constexpr size_t kRecordHeader = 16;
constexpr uint32_t kLinkTypeEthernet = 1;
constexpr uint32_t kLinkTypeMask = 0x03ffffff;  // the upper bits say whether frames carry an FCS
// libpcap's largest sane record for Ethernet (MAXIMUM_SNAPLEN): a larger one is an error, and a
// header snapshot length of 0 or above it means this.
constexpr uint32_t kMaxSnaplen = 262144;

// Faulted in ahead and given back behind in windows of this size.
constexpr size_t kWindow = size_t{16} << 20;
// Read ahead of the record being handed out, one cache line at a time.
constexpr size_t kPrefetchAhead = 8192;
constexpr size_t kCacheLine = 64;

uint32_t Swap(uint32_t v) { return v >> 24 | (v >> 8 & 0xff00) | (v << 8 & 0xff0000) | v << 24; }

template <typename... Args>
std::string Format(const char* format, Args... args) {
  std::array<char, 160> text{};
  std::snprintf(text.data(), text.size(), format, args...);
  return text.data();
}

}  // namespace

#ifdef NETGUARD_HAVE_MMAP

std::unique_ptr<MappedPcap> MappedPcap::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st {};
  std::array<uint32_t, kFileHeader / 4> header{};
  const bool readable =
      ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= off_t{kFileHeader} &&
      ::pread(fd, header.data(), kFileHeader, 0) == static_cast<ssize_t>(kFileHeader);
  void* base = readable
                   ? ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0)
                   : MAP_FAILED;
  ::close(fd);  // the map keeps the file
  if (base == MAP_FAILED) return nullptr;
  std::unique_ptr<MappedPcap> file(
      new MappedPcap(path, static_cast<const uint8_t*>(base), static_cast<size_t>(st.st_size)));

  uint32_t magic = header[0];
  if (magic != kMagicMicro && magic != kMagicNano) {
    magic = Swap(magic);
    file->swapped_ = true;
  }
  if (file->swapped_)
    for (uint32_t& word : header) word = Swap(word);
  // version: major then minor, 16 bits each in the file's byte order
  const uint32_t version = file->swapped_ ? header[1] : header[1] >> 16 | header[1] << 16;
  const uint32_t snaplen = header[4];
  const uint32_t link_type = header[5] & kLinkTypeMask;
  if ((magic != kMagicMicro && magic != kMagicNano) || version != (2u << 16 | 4u) ||
      link_type != kLinkTypeEthernet)
    return nullptr;
  file->nanoseconds_ = magic == kMagicNano;
  file->snapshot_ = snaplen == 0 || snaplen > kMaxSnaplen ? kMaxSnaplen : snaplen;
  ::madvise(const_cast<uint8_t*>(file->base_), file->size_, MADV_SEQUENTIAL);
  return file;
}

MappedPcap::~MappedPcap() {
  if (size_ > unmapped_) ::munmap(const_cast<uint8_t*>(base_ + unmapped_), size_ - unmapped_);
}

void MappedPcap::Advance(size_t offset) {
  const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t behind = offset / page * page;
  if (behind >= unmapped_ + kWindow) {
    ::munmap(const_cast<uint8_t*>(base_ + unmapped_), behind - unmapped_);
    unmapped_ = behind;
  }
#ifdef MADV_POPULATE_READ
  // One call faults a window in: cheaper than a fault per few pages (older kernels refuse it,
  // and reading then faults page by page as usual).
  if (populated_ < size_ && populated_ < offset + kWindow) {
    const size_t from = std::max(populated_, behind);
    const size_t to = std::min(size_, from + 2 * kWindow);
    ::madvise(const_cast<uint8_t*>(base_ + from), to - from, MADV_POPULATE_READ);
    populated_ = to;
  }
#endif
}

#else  // no mmap: libpcap reads every file

std::unique_ptr<MappedPcap> MappedPcap::Open(const std::string&) { return nullptr; }
MappedPcap::~MappedPcap() = default;
void MappedPcap::Advance(size_t) {}

#endif

MappedPcap::MappedPcap(std::string path, const uint8_t* base, size_t size)
    : path_(std::move(path)), base_(base), size_(size) {}

ReadResult MappedPcap::ReadAll(PacketSink& sink) {
  ReadResult result;
  size_t offset = kFileHeader;
  size_t next_advance = 0;
  size_t prefetched = offset;
  while (offset < size_) {
    if (offset >= next_advance) {
      Advance(offset);
      next_advance = offset + kWindow / 2;
    }
    const size_t header_bytes = size_ - offset;
    if (header_bytes < kRecordHeader) {
      result.Fail(path_, static_cast<int64_t>(offset),
                  Format("truncated dump file; tried to read %zu header bytes, only got %zu",
                         kRecordHeader, header_bytes));
      break;
    }
    std::array<uint32_t, 4> h;  // seconds, fraction, captured length, wire length
    std::memcpy(h.data(), base_ + offset, kRecordHeader);
    if (swapped_)
      for (uint32_t& word : h) word = Swap(word);
    const uint32_t caplen = h[2];
    const size_t data_bytes = header_bytes - kRecordHeader;
    std::string error;
    if (caplen > kMaxSnaplen) {
      error =
          Format("invalid packet capture length %u, bigger than snaplen of %u", caplen, snapshot_);
    } else if (caplen > snapshot_ && data_bytes < snapshot_) {
      // libpcap reads the snapshot length, then skips the rest of such a record
      error = Format("truncated dump file; tried to read %u captured bytes, only got %zu",
                     snapshot_, data_bytes);
    } else if (data_bytes < caplen) {
      error = Format("truncated dump file; tried to read %u captured bytes, only got %zu", caplen,
                     data_bytes);
    }
    if (!error.empty()) {
      result.Fail(path_, static_cast<int64_t>(offset), error);
      break;
    }
    // libpcap's signed 32-bit seconds and fraction, the fraction scaled to nanoseconds
    const auto seconds = static_cast<int64_t>(static_cast<int32_t>(h[0]));
    auto fraction = static_cast<int64_t>(static_cast<int32_t>(h[1]));
    if (!nanoseconds_) fraction *= 1000;
    result.last_ts_ns =
        static_cast<uint64_t>(seconds) * 1000000000ULL + static_cast<uint64_t>(fraction);
    result.packets++;
    const uint8_t* data = base_ + offset + kRecordHeader;
    offset += kRecordHeader + caplen;
    // The file's next kPrefetchAhead bytes are fetched while this packet is worked on: the
    // records' headers lie hundreds of bytes apart, and reading each as it came waited on memory
    // (with only the next record's header fetched, reading was still a third of a mixed
    // capture's time: a packet's work is shorter than a miss).
    for (const size_t until = std::min(offset + kPrefetchAhead, size_); prefetched < until;
         prefetched += kCacheLine)
      __builtin_prefetch(base_ + prefetched);
    sink.OnPacket({data, std::min(caplen, snapshot_)}, h[3], result.last_ts_ns);
  }
  return result;
}

}  // namespace netguard::capture::pcap
