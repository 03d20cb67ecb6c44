// Copyright (c) NetGuard authors.
//
// bpf_cost's reporting side: the figures and checks a run collects, the statistics over trials,
// a minimal JSON writer, the description of the system, and the sections of the JSON object
// that are derived from the figures. See bpf_cost.cpp.

#ifndef NETGUARD_BENCH_BPF_COST_REPORT_H_
#define NETGUARD_BENCH_BPF_COST_REPORT_H_

#include <linux/bpf.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace netguard::bench::bpf_cost {

/// Prints "bpf_cost: " and `format` (printf-style, with `args`) as one line on stderr, where
/// progress and warnings go (stdout is the JSON).
void Progress(const char* format, auto... args) {
  std::fprintf(stderr, "bpf_cost: ");
  std::fprintf(stderr, format, args...);
  std::fputc('\n', stderr);
}

// ---- Statistics and formatting ----

/// The median of `values`; NaN when empty.
double Median(std::vector<double> values);

/// The smallest of `values`; NaN when empty.
double Min(const std::vector<double>& values);

/// The largest of `values`; NaN when empty.
double Max(const std::vector<double>& values);

/// num / den, or nullopt (JSON null) when either is not finite or den <= 0.
std::optional<double> Ratio(double num, double den);

/// Percentile `pct` (0..100) of unsorted integer samples (nearest rank below); NaN when empty.
/// Reorders `values`.
double Percentile(std::vector<uint32_t>& values, double pct);

/// `v` in decimal.
std::string U64(uint64_t v);

/// "XDP_DROP", "XDP_PASS", ... for an XDP return code; "verdict <n>" for an unknown one.
std::string VerdictName(uint32_t verdict);

/// The first line of the file at `path` (without the newline); empty if it cannot be read.
std::string ReadFirstLine(const std::string& path);

// ---- What a run collects ----

/// One reported figure: a cost per packet in each trial plus what the runs did.
struct Figure {
  std::string name;
  std::string program;
  std::string packet;
  std::string method;
  uint32_t expected_verdict = XDP_PASS;
  std::vector<double> ns{};  // kernel-reported ns/packet, one per trial
  // Ring buffer and interrupt accounting of the measured runs (existing-flow figures).
  bool ring_tally = false;
  uint64_t samples = 0, ring_read = 0, ring_drops = 0, flows_started = 0, irq_work = 0;
  std::vector<uint32_t> verdicts{};
  // Extra fields, rendered as "key": json.
  std::vector<std::pair<std::string, std::string>> extras{};

  double median() const { return Median(ns); }
  double min() const { return Min(ns); }
};

/// Every figure bpf_cost reports; the members are in report order.
struct Figures {
  Figure existing;          // existing_flow
  Figure existing_tcp;      // existing_flow_tcp_ack
  Figure existing_waiting;  // existing_flow_consumer_waiting
  Figure new_flow;          // new_flow
  Figure block;             // block_hit
  Figure xf_dny;            // xdpfilter_dny
  Figure xf_alw;            // xdpfilter_alw
  Figure floor;             // xdp_pass_floor
  Figure floor1;            // xdp_pass_floor_repeat1

  // The component floors (floor_ktime, ...), in FloorKind order (bpf_cost_floor.h).
  std::vector<Figure> components;
};

/// Failed consistency checks and warnings, reported in the JSON and echoed on stderr.
struct Checks {
  std::vector<std::string> failures;
  std::vector<std::string> warnings;

  /// Records `what` as a failure (and prints it) unless `ok`.
  void Expect(bool ok, const std::string& what);
  /// Records `what` as a warning and prints it.
  void Warn(const std::string& what);
};

// ---- JSON output ----

/// Minimal JSON writer (nlohmann-json is not a dependency): nested objects and arrays, two-space
/// indentation, one member or item per line. Keys are written as given (not deduplicated).
class JsonWriter {
 public:
  /// Opens an object, as the member `key` when inside an object (empty key: an array item or
  /// the top level).
  void BeginObject(std::string_view key = {}) { Open(key, '{'); }
  /// Closes the innermost object.
  void EndObject() { Close('}'); }
  /// Opens an array, as the member `key` when inside an object.
  void BeginArray(std::string_view key = {}) { Open(key, '['); }
  /// Closes the innermost array.
  void EndArray() { Close(']'); }

  /// Writes the member `key` with a string, boolean or number value (doubles via Number(); an
  /// empty optional is null; a vector is an array of numbers).
  void Field(std::string_view key, std::string_view value) { Raw(key, Quote(value)); }
  void Field(std::string_view key, const char* value) { Field(key, std::string_view(value)); }
  void Field(std::string_view key, const std::string& value) {
    Field(key, std::string_view(value));
  }
  void Field(std::string_view key, bool value) { Raw(key, value ? "true" : "false"); }
  void Field(std::string_view key, uint64_t value) { Raw(key, std::to_string(value)); }
  void Field(std::string_view key, uint32_t value) { Raw(key, std::to_string(value)); }
  void Field(std::string_view key, int value) { Raw(key, std::to_string(value)); }
  void Field(std::string_view key, double value) { Raw(key, Number(value)); }
  void Field(std::string_view key, std::optional<double> value) {
    Raw(key, value ? Number(*value) : "null");
  }
  void Field(std::string_view key, const std::vector<double>& values);

  /// Writes a string item of the innermost array.
  void Item(std::string_view value) { Raw({}, Quote(value)); }

  /// Writes `key: json` where json is already valid JSON text.
  void Raw(std::string_view key, std::string_view json);

  /// The text written so far, with a final newline.
  std::string Finish() { return out_ + "\n"; }

  /// `value` with three decimals, trailing zeros trimmed ("12.5", "3"); null when not finite.
  static std::string Number(double value);

  /// `text` as a quoted JSON string, escaping quotes, backslashes and control characters.
  static std::string Quote(std::string_view text);

 private:
  void Open(std::string_view key, char bracket);
  void Close(char bracket);
  void Prefix(std::string_view key);
  void Newline();

  std::string out_;
  std::vector<bool> first_;
};

/// Which goals a run met (see WriteComparisons()).
struct Goals {
  bool block_hit_dny = false;      // block_hit <= 1.0x xdpfilter_dny (median)
  bool block_hit_alw = false;      // block_hit <= 1.0x xdpfilter_alw (median)
  bool existing_flow = false;      // existing_flow <= 60 ns (median)
  bool existing_flow_tcp = false;  // existing_flow_tcp_ack <= 60 ns (median)
};

/// Writes the "system" member: kernel release, CPU model and count, `pinned_cpu`, whether a
/// hypervisor is present, the clock source, the BPF JIT and `bpf_stats_enabled` sysctls and the
/// libbpf version.
void WriteSystem(JsonWriter& json, int pinned_cpu, const std::string& bpf_stats_enabled);

/// Writes the "figures" member: per figure, in report order, its median, min, max, per-trial
/// values, last verdict, expected verdict, program, packet, method and extra fields.
void WriteFigures(JsonWriter& json, const Figures& figures);

/// Writes the "net_of_floor" (costs minus the XDP_PASS floor), "ratios" (including each
/// component floor's net cost against the 60 ns goal) and "goals" members and returns which
/// goals were met.
Goals WriteComparisons(JsonWriter& json, const Figures& figures);

/// Writes the "checks_ok", "check_failures" and "warnings" members.
void WriteChecks(JsonWriter& json, const Checks& checks);

}  // namespace netguard::bench::bpf_cost

#endif  // NETGUARD_BENCH_BPF_COST_REPORT_H_
