// pcap-file's mapped reader (MappedPcap) against libpcap's: the same packets, lengths,
// timestamps and errors, for every kind of classic pcap file the mapped reader takes (both
// timestamp units, both byte orders, snapshot-limited records, truncated and corrupt records),
// and libpcap still reading what the mapped reader leaves to it.
#include "capture/pcap/mapped_pcap.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "capture/pcap/pcap_source.h"
#include "features/pcap_test_util.h"
#include "support/packet_builder.h"

namespace netguard::testing {
namespace {

using capture::pcap::FileAccess;
using capture::pcap::MappedPcap;
using capture::pcap::PacketSink;
using capture::pcap::PcapFileReader;
using capture::pcap::ReadResult;

constexpr uint64_t kT0 = 1700000000ULL * 1000000000ULL + 123456000ULL;

struct Packet {
  std::vector<uint8_t> frame;
  uint32_t wire_len;
  uint64_t ts_ns;
  bool operator==(const Packet&) const = default;
};

class Recorder final : public PacketSink {
 public:
  void OnPacket(std::span<const uint8_t> frame, uint32_t wire_len, uint64_t ts_ns) override {
    packets.push_back({{frame.begin(), frame.end()}, wire_len, ts_ns});
  }
  std::vector<Packet> packets;
};

struct Read {
  std::vector<Packet> packets;
  ReadResult result;
};

Read ReadWith(const std::string& path, FileAccess access) {
  PcapFileReader reader(path, access);
  Recorder recorder;
  Read read;
  read.result = reader.ReadAll(recorder);
  read.packets = std::move(recorder.packets);
  return read;
}

// Reads `path` both ways; the mapped reader must take it (`mapped`) or leave it to libpcap.
Read ExpectSameReads(const std::string& path, bool mapped = true) {
  EXPECT_EQ(MappedPcap::Open(path) != nullptr, mapped) << path;
  const Read fast = ReadWith(path, FileAccess::kFastest);
  const Read libpcap = ReadWith(path, FileAccess::kLibpcap);
  EXPECT_EQ(fast.packets.size(), libpcap.packets.size()) << path;
  EXPECT_TRUE(fast.packets == libpcap.packets) << path;
  EXPECT_EQ(fast.result.packets, libpcap.result.packets) << path;
  EXPECT_EQ(fast.result.last_ts_ns, libpcap.result.last_ts_ns) << path;
  EXPECT_EQ(fast.result.ok, libpcap.result.ok) << path;
  EXPECT_EQ(fast.result.error, libpcap.result.error) << path;
  EXPECT_EQ(fast.result.error_packet, libpcap.result.error_packet) << path;
  EXPECT_EQ(fast.result.error_offset, libpcap.result.error_offset) << path;
  return fast;
}

// Frames of different sizes and protocols, a few µs (or ns) apart.
std::vector<TimedFrame> Frames() {
  std::vector<TimedFrame> frames;
  for (int i = 0; i < 6; i++) {
    PacketBuilder b;
    b.Ip("10.9.0." + std::to_string(1 + i % 3), "10.9.0.200");
    if (i % 2 == 0)
      b.Udp(static_cast<uint16_t>(4000 + i), 53).Payload(static_cast<size_t>(20 + 300 * i));
    else
      b.Tcp(static_cast<uint16_t>(5000 + i), 80, 0x18).Payload(static_cast<size_t>(100 * i));
    frames.push_back({b.Build(), kT0 + static_cast<uint64_t>(i) * 1001ULL});
  }
  return frames;
}

std::vector<uint8_t> Bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void Write(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

uint32_t Get32(const std::vector<uint8_t>& b, size_t at) {
  uint32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}

void Set32(std::vector<uint8_t>& b, size_t at, uint32_t v) { std::memcpy(b.data() + at, &v, 4); }

// Offsets of the records of a file in host byte order.
std::vector<size_t> RecordOffsets(const std::vector<uint8_t>& b) {
  std::vector<size_t> offsets;
  for (size_t at = 24; at + 16 <= b.size(); at += 16 + Get32(b, at + 8)) offsets.push_back(at);
  return offsets;
}

TEST(MappedPcapTest, MicrosecondAndNanosecondFilesReadAsLibpcapReadsThem) {
  for (const bool nano : {false, true}) {
    const std::string path = TempPath(nano ? "ns.pcap" : "us.pcap");
    WritePcap(path, Frames(), nano);
    const Read read = ExpectSameReads(path);
    ASSERT_EQ(read.packets.size(), 6u);
    EXPECT_TRUE(read.result.ok);
    EXPECT_EQ(read.packets[5].ts_ns, kT0 + (nano ? 5005 : 5000));
    EXPECT_EQ(read.packets[5].wire_len, Frames()[5].frame.size());
  }
}

TEST(MappedPcapTest, OtherByteOrderIsSwapped) {
  const std::string path = TempPath("swapped.pcap");
  WritePcap(path, Frames(), true);
  std::vector<uint8_t> b = Bytes(path);
  const std::vector<size_t> records = RecordOffsets(b);
  for (size_t at : {0, 8, 12, 16, 20}) Set32(b, at, __builtin_bswap32(Get32(b, at)));
  std::swap(b[4], b[5]);  // version major and minor: 16 bits each
  std::swap(b[6], b[7]);
  for (size_t record : records)
    for (size_t at = record; at < record + 16; at += 4)
      Set32(b, at, __builtin_bswap32(Get32(b, at)));
  Write(path, b);
  const Read read = ExpectSameReads(path);
  EXPECT_EQ(read.packets.size(), 6u);
  EXPECT_EQ(read.packets[3].ts_ns, kT0 + 3003);
}

TEST(MappedPcapTest, RecordsLongerThanTheSnapshotLengthAreCut) {
  const std::string path = TempPath("snap.pcap");
  WritePcap(path, Frames());
  std::vector<uint8_t> b = Bytes(path);
  Set32(b, 16, 200);  // snapshot length 200: larger records are cut to it, as libpcap does
  Write(path, b);
  const Read read = ExpectSameReads(path);
  ASSERT_EQ(read.packets.size(), 6u);
  EXPECT_EQ(read.packets[4].frame.size(), 200u);
  EXPECT_GT(read.packets[4].wire_len, 1000u);
}

TEST(MappedPcapTest, TruncatedAndCorruptRecordsFailAsInLibpcap) {
  const std::string path = TempPath("cut.pcap");
  WritePcap(path, Frames());
  const std::vector<uint8_t> whole = Bytes(path);
  const std::vector<size_t> records = RecordOffsets(whole);
  ASSERT_EQ(records.size(), 6u);
  // cut inside a record header, inside a record's data, right after the file header
  for (const size_t cut : {records[4] + 9, records[5] + 16 + 30, size_t{24}}) {
    Write(path, {whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut)});
    const Read read = ExpectSameReads(path);
    EXPECT_EQ(read.result.ok, cut == 24) << cut;
  }
  // a captured length past any snapshot length, and one past this file's snapshot length whose
  // record is cut before it (or after it) ends
  std::vector<uint8_t> b = whole;
  Set32(b, records[2] + 8, 0x7fffffff);
  Write(path, b);
  EXPECT_EQ(ExpectSameReads(path).result.error_packet, 3u);
  for (const size_t cut : {records[5] + 16 + 50, records[5] + 16 + 150}) {
    b = {whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut)};
    Set32(b, 16, 100);
    Write(path, b);
    const Read read = ExpectSameReads(path);
    EXPECT_FALSE(read.result.ok);
    EXPECT_EQ(read.result.error_offset, static_cast<int64_t>(records[5]));
  }
}

TEST(MappedPcapTest, FilesItDoesNotTakeGoToLibpcap) {
  const std::string path = TempPath("other.pcap");
  WritePcap(path, Frames());
  std::vector<uint8_t> b = Bytes(path);
  Set32(b, 20, 1 | 0x14000000);  // Ethernet with FCS length bits: still Ethernet, still mapped
  Write(path, b);
  EXPECT_EQ(ExpectSameReads(path).packets.size(), 6u);
  b[6] = 3;  // version 2.3: lengths maybe swapped, libpcap's business
  Write(path, b);
  EXPECT_EQ(ExpectSameReads(path, false).packets.size(), 6u);
  Write(path, {b.begin(), b.begin() + 20});  // shorter than a file header
  EXPECT_EQ(MappedPcap::Open(path), nullptr);
  EXPECT_EQ(MappedPcap::Open(TempPath("missing.pcap")), nullptr);
}

}  // namespace
}  // namespace netguard::testing
