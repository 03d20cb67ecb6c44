#include "features/pcap_test_util.h"

#include <pcap/pcap.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

namespace netguard::testing {

void WritePcap(const std::string& path, const std::vector<TimedFrame>& frames, bool nanosecond) {
  pcap_t* dead = pcap_open_dead_with_tstamp_precision(
      DLT_EN10MB, 262144, nanosecond ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
  if (!dead) throw std::runtime_error("pcap_open_dead failed");
  pcap_dumper_t* dumper = pcap_dump_open(dead, path.c_str());
  if (!dumper) {
    std::string error = pcap_geterr(dead);
    pcap_close(dead);
    throw std::runtime_error(path + ": " + error);
  }
  const uint64_t unit = nanosecond ? 1 : 1000;
  for (const TimedFrame& f : frames) {
    pcap_pkthdr h{};
    h.ts.tv_sec = static_cast<time_t>(f.ts_ns / 1000000000ULL);
    h.ts.tv_usec = static_cast<suseconds_t>((f.ts_ns % 1000000000ULL) / unit);
    h.caplen = h.len = static_cast<bpf_u_int32>(f.frame.size());
    pcap_dump(reinterpret_cast<u_char*>(dumper), &h, f.frame.data());
  }
  pcap_dump_close(dumper);
  pcap_close(dead);
}

std::vector<FlowRecord> FlowsOfCapture(const std::string& path,
                                       const capture::pcap::FlowTableOptions& options,
                                       capture::pcap::ReadResult* result) {
  CollectFlows flows;
  capture::pcap::FlowTable table(options, flows);
  capture::pcap::PcapFileReader reader(path);
  capture::pcap::FlowTableSink sink(table);
  const capture::pcap::ReadResult read = reader.ReadAll(sink);
  table.Flush();
  if (result) *result = read;
  return flows.ended;
}

std::string TempPath(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("netguard_features_test." + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

}  // namespace netguard::testing
