// Copyright (c) NetGuard authors.
//
// bpf_cost's reporting side; see bpf_cost_report.h.

#include "bpf_cost_report.h"

#include <bpf/libbpf.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace netguard::bench::bpf_cost {
namespace {

constexpr double kExistingFlowGoalNs = 60.0;
constexpr double kBlockHitGoalRatio = 1.0;

// Value of the first "<key>\t: value" line of /proc/cpuinfo.
std::string CpuInfoField(std::string_view key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string name = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    if (name != key) continue;
    const size_t start = line.find_first_not_of(' ', colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "";
}

bool CpuHasFlag(std::string_view flag) {
  const std::string flags = " " + CpuInfoField("flags") + " ";
  return flags.find(" " + std::string(flag) + " ") != std::string::npos;
}

}  // namespace

// ---- Statistics and formatting ----

double Median(std::vector<double> values) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double Min(const std::vector<double>& values) {
  return values.empty() ? NAN : *std::min_element(values.begin(), values.end());
}

double Max(const std::vector<double>& values) {
  return values.empty() ? NAN : *std::max_element(values.begin(), values.end());
}

std::optional<double> Ratio(double num, double den) {
  if (!std::isfinite(num) || !std::isfinite(den) || den <= 0) return std::nullopt;
  return num / den;
}

double Percentile(std::vector<uint32_t>& values, double pct) {
  if (values.empty()) return NAN;
  const auto index = static_cast<size_t>(pct / 100.0 * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<ptrdiff_t>(index), values.end());
  return values[index];
}

std::string U64(uint64_t v) { return std::to_string(v); }

std::string VerdictName(uint32_t verdict) {
  switch (verdict) {
    case XDP_ABORTED:
      return "XDP_ABORTED";
    case XDP_DROP:
      return "XDP_DROP";
    case XDP_PASS:
      return "XDP_PASS";
    case XDP_TX:
      return "XDP_TX";
    case XDP_REDIRECT:
      return "XDP_REDIRECT";
  }
  return "verdict " + std::to_string(verdict);
}

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// ---- Checks ----

void Checks::Expect(bool ok, const std::string& what) {
  if (!ok) {
    failures.push_back(what);
    Progress("CHECK FAILED: %s", what.c_str());
  }
}

void Checks::Warn(const std::string& what) {
  warnings.push_back(what);
  Progress("warning: %s", what.c_str());
}

// ---- JsonWriter ----

void JsonWriter::Field(std::string_view key, const std::vector<double>& values) {
  std::string text = "[";
  for (size_t i = 0; i < values.size(); ++i) text += (i ? ", " : "") + Number(values[i]);
  Raw(key, text + "]");
}

void JsonWriter::Raw(std::string_view key, std::string_view json) {
  Prefix(key);
  out_ += json;
}

std::string JsonWriter::Number(double value) {
  if (!std::isfinite(value)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.3f", value);
  // Trim trailing zeros ("12.500" -> "12.5", "3.000" -> "3") for readability.
  std::string text(buf);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text == "-0" ? "0" : text;
}

std::string JsonWriter::Quote(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

void JsonWriter::Open(std::string_view key, char bracket) {
  Prefix(key);
  out_ += bracket;
  first_.push_back(true);
}

void JsonWriter::Close(char bracket) {
  const bool empty = first_.back();
  first_.pop_back();
  if (!empty) Newline();
  out_ += bracket;
}

void JsonWriter::Prefix(std::string_view key) {
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
    Newline();
  }
  if (!key.empty()) out_ += Quote(key) + ": ";
}

void JsonWriter::Newline() {
  out_ += '\n';
  out_.append(2 * first_.size(), ' ');
}

// ---- Report sections ----

void WriteSystem(JsonWriter& json, int pinned_cpu, const std::string& bpf_stats_enabled) {
  utsname uts{};
  uname(&uts);
  json.BeginObject("system");
  json.Field("kernel", uts.release);
  json.Field("cpu_model", CpuInfoField("model name"));
  json.Field("online_cpus", static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
  json.Field("pinned_cpu", pinned_cpu);
  json.Field("hypervisor", CpuHasFlag("hypervisor"));
  json.Field("clocksource",
             ReadFirstLine("/sys/devices/system/clocksource/clocksource0/current_clocksource"));
  json.Field("bpf_jit_enable", ReadFirstLine("/proc/sys/net/core/bpf_jit_enable"));
  json.Field("bpf_stats_enabled", bpf_stats_enabled);
  json.Field("libbpf",
             std::to_string(libbpf_major_version()) + "." + std::to_string(libbpf_minor_version()));
  json.EndObject();
}

void WriteFigures(JsonWriter& json, const Figures& f) {
  json.BeginObject("figures");
  std::vector<const Figure*> figures = {&f.existing, &f.existing_tcp, &f.existing_waiting,
                                        &f.new_flow, &f.block,        &f.xf_dny,
                                        &f.xf_alw,   &f.floor,        &f.floor1};
  for (const Figure& component : f.components) figures.push_back(&component);
  for (const Figure* fig : figures) {
    json.BeginObject(fig->name);
    json.Field("median", fig->median());
    json.Field("min", fig->min());
    json.Field("max", Max(fig->ns));
    json.Field("trials", fig->ns);
    json.Field("verdict",
               VerdictName(fig->verdicts.empty() ? uint32_t{XDP_ABORTED} : fig->verdicts.back()));
    json.Field("expected_verdict", VerdictName(fig->expected_verdict));
    json.Field("program", fig->program);
    json.Field("packet", fig->packet);
    json.Field("method", fig->method);
    for (const auto& [key, value] : fig->extras) json.Raw(key, value);
    json.EndObject();
  }
  json.EndObject();
}

Goals WriteComparisons(JsonWriter& json, const Figures& f) {
  const double floor_med = f.floor.median();
  json.BeginObject("net_of_floor");  // program cost with the test-run harness subtracted
  json.Field("existing_flow", f.existing.median() - floor_med);
  json.Field("existing_flow_tcp_ack", f.existing_tcp.median() - floor_med);
  json.Field("existing_flow_consumer_waiting", f.existing_waiting.median() - floor_med);
  json.Field("block_hit", f.block.median() - floor_med);
  json.Field("xdpfilter_dny", f.xf_dny.median() - floor_med);
  json.Field("xdpfilter_alw", f.xf_alw.median() - floor_med);
  json.Field("new_flow", f.new_flow.median() - f.floor1.median());
  for (const Figure& component : f.components) {
    json.Field(component.name, component.median() - floor_med);
  }
  json.EndObject();

  const auto ratio_dny = Ratio(f.block.median(), f.xf_dny.median());
  const auto ratio_alw = Ratio(f.block.median(), f.xf_alw.median());
  json.BeginObject("ratios");
  json.Field("block_hit/xdpfilter_dny", ratio_dny);
  json.Field("block_hit/xdpfilter_dny_min", Ratio(f.block.min(), f.xf_dny.min()));
  json.Field("block_hit/xdpfilter_alw", ratio_alw);
  json.Field("block_hit/xdpfilter_alw_min", Ratio(f.block.min(), f.xf_alw.min()));
  json.Field("existing_flow/goal_60ns", Ratio(f.existing.median(), kExistingFlowGoalNs));
  json.Field("existing_flow_tcp_ack/goal_60ns",
             Ratio(f.existing_tcp.median(), kExistingFlowGoalNs));
  json.Field("new_flow/existing_flow", Ratio(f.new_flow.median(), f.existing.median()));
  for (const Figure& component : f.components) {
    json.Field(component.name + "_net/goal_60ns",
               Ratio(component.median() - floor_med, kExistingFlowGoalNs));
  }
  json.EndObject();

  Goals goals;
  goals.block_hit_dny = ratio_dny && *ratio_dny <= kBlockHitGoalRatio;
  goals.block_hit_alw = ratio_alw && *ratio_alw <= kBlockHitGoalRatio;
  goals.existing_flow = f.existing.median() <= kExistingFlowGoalNs;
  goals.existing_flow_tcp = f.existing_tcp.median() <= kExistingFlowGoalNs;
  json.BeginObject("goals");
  json.BeginObject("block_hit_le_1.0x_xdpfilter_dny");
  json.Field("value", ratio_dny);
  json.Field("met", goals.block_hit_dny);
  json.EndObject();
  json.BeginObject("block_hit_le_1.0x_xdpfilter_alw");
  json.Field("value", ratio_alw);
  json.Field("met", goals.block_hit_alw);
  json.EndObject();
  json.BeginObject("existing_flow_le_60ns");
  json.Field("value", f.existing.median());
  json.Field("value_net_of_floor", f.existing.median() - floor_med);
  json.Field("met", goals.existing_flow);
  json.EndObject();
  json.BeginObject("existing_flow_tcp_ack_le_60ns");
  json.Field("value", f.existing_tcp.median());
  json.Field("value_net_of_floor", f.existing_tcp.median() - floor_med);
  json.Field("met", goals.existing_flow_tcp);
  json.EndObject();
  json.EndObject();
  return goals;
}

void WriteChecks(JsonWriter& json, const Checks& checks) {
  json.Field("checks_ok", checks.failures.empty());
  json.BeginArray("check_failures");
  for (const auto& f : checks.failures) json.Item(f);
  json.EndArray();
  json.BeginArray("warnings");
  for (const auto& w : checks.warnings) json.Item(w);
  json.EndArray();
}

}  // namespace netguard::bench::bpf_cost
