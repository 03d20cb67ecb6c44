#include "output.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "time_text.h"

namespace netguard::ctl {
namespace {

int64_t Ns(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1'000'000'000 + ts.nanos();
}

std::string Time(const google::protobuf::Timestamp& ts) { return FormatTime(Ns(ts)); }

void PrintRow(const std::vector<std::string>& cells, const std::vector<size_t>& widths,
              std::ostream& out) {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) {
    line += cells[i];
    if (i + 1 < cells.size()) {
      const size_t width = i < widths.size() ? widths[i] : 0;
      line.append(width > cells[i].size() ? width - cells[i].size() : 0, ' ');
      line += "  ";
    }
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  out << line << '\n';
}

std::string Score(double score) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", score);
  return buf;
}

std::string AlertState(const v1::Alert& alert) {
  std::string state = alert.acknowledged() ? "acked" : "new";
  if (alert.feedback() == v1::FEEDBACK_TRUE_POSITIVE) state += ",tp";
  if (alert.feedback() == v1::FEEDBACK_FALSE_POSITIVE) state += ",fp";
  return state;
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

}  // namespace

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths(header_.size(), 0);
  for (size_t i = 0; i < header_.size(); ++i) widths[i] = header_[i].size();
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  PrintRow(header_, widths, out);
  for (const auto& row : rows_) PrintRow(row, widths, out);
}

StreamTable::StreamTable(std::vector<std::string> header, std::vector<size_t> widths,
                         std::ostream& out)
    : widths_(std::move(widths)), out_(out) {
  for (size_t i = 0; i < header.size() && i < widths_.size(); ++i) {
    widths_[i] = std::max(widths_[i], header[i].size());
  }
  PrintRow(header, widths_, out_);
  out_.flush();
}

void StreamTable::Add(const std::vector<std::string>& row) {
  PrintRow(row, widths_, out_);
  out_.flush();
}

std::string ToJsonLine(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = true;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) return "{\"error\":\"cannot print as JSON\"}";
  return json;
}

std::string SeverityName(v1::Severity severity) {
  switch (severity) {
    case v1::SEVERITY_INFO:
      return "info";
    case v1::SEVERITY_WARNING:
      return "warning";
    case v1::SEVERITY_HIGH:
      return "high";
    case v1::SEVERITY_CRITICAL:
      return "critical";
    default:
      return "-";
  }
}

std::string Endpoint(const std::string& address, uint32_t port) {
  if (address.empty()) return "-";
  if (port == 0) return address;
  if (address.find(':') != std::string::npos) return "[" + address + "]:" + std::to_string(port);
  return address + ":" + std::to_string(port);
}

std::vector<std::string> AlertHeader(bool wide) {
  std::vector<std::string> h = {"ID",          "TIME",  "SEVERITY", "CLASS", "SOURCE",
                                "DESTINATION", "PROTO", "SCORE",    "STATE"};
  if (wide) h.insert(h.end(), {"DETECTOR", "MITRE", "COVERAGE", "EVIDENCE"});
  return h;
}

std::vector<std::string> AlertRow(const v1::Alert& a, bool wide) {
  std::vector<std::string> row = {std::to_string(a.id()),
                                  Time(a.time()),
                                  SeverityName(a.severity()),
                                  OrDash(a.alert_class()),
                                  Endpoint(a.src_addr(), a.src_port()),
                                  Endpoint(a.dst_addr(), a.dst_port()),
                                  OrDash(a.protocol()),
                                  Score(a.score()),
                                  AlertState(a)};
  if (wide) {
    row.insert(row.end(), {OrDash(a.detector()), OrDash(a.mitre_technique()),
                           a.degraded_coverage() ? "degraded" : "full", OrDash(a.evidence_json())});
  }
  return row;
}

std::vector<size_t> AlertWidths(bool wide) {
  std::vector<size_t> w = {6, 20, 8, 12, 21, 21, 5, 5, 8};
  if (wide) w.insert(w.end(), {16, 6, 8, 0});
  return w;
}

std::vector<std::string> FlowHeader(bool wide) {
  std::vector<std::string> h = {"ID",          "START",   "DURATION", "PROTO", "SOURCE",
                                "DESTINATION", "PACKETS", "BYTES",    "END"};
  if (wide) h.insert(h.end(), {"FWD_PKTS", "BWD_PKTS", "FWD_BYTES", "BWD_BYTES", "IFINDEX"});
  return h;
}

std::vector<std::string> FlowRow(const v1::Flow& f, bool wide) {
  std::vector<std::string> row = {std::to_string(f.id()),
                                  Time(f.start()),
                                  FormatDuration(Ns(f.end()) - Ns(f.start())),
                                  OrDash(f.protocol()),
                                  Endpoint(f.src_addr(), f.src_port()),
                                  Endpoint(f.dst_addr(), f.dst_port()),
                                  std::to_string(f.fwd_packets() + f.bwd_packets()),
                                  std::to_string(f.fwd_bytes() + f.bwd_bytes()),
                                  OrDash(f.end_reason())};
  if (wide) {
    row.insert(row.end(), {std::to_string(f.fwd_packets()), std::to_string(f.bwd_packets()),
                           std::to_string(f.fwd_bytes()), std::to_string(f.bwd_bytes()),
                           std::to_string(f.ifindex())});
  }
  return row;
}

std::vector<size_t> FlowWidths(bool wide) {
  std::vector<size_t> w = {8, 20, 8, 5, 21, 21, 7, 9, 14};
  if (wide) w.insert(w.end(), {8, 8, 9, 9, 7});
  return w;
}

std::vector<std::string> BlockHeader(bool wide) {
  std::vector<std::string> h = {"PREFIX",  "TYPE",  "CREATED",  "EXPIRES",
                                "PACKETS", "BYTES", "ENFORCED", "REASON"};
  if (wide) h.push_back("ALERTS");
  return h;
}

std::vector<std::string> BlockRow(const v1::BlockEntry& b, bool wide, int64_t now_ns) {
  std::string expires = "never";
  if (b.has_expires()) {
    expires = Time(b.expires()) + " (in " + FormatDuration(Ns(b.expires()) - now_ns) + ")";
  }
  std::vector<std::string> row = {b.prefix(),
                                  b.automatic() ? "auto" : "manual",
                                  Time(b.created()),
                                  expires,
                                  std::to_string(b.packets()),
                                  std::to_string(b.bytes()),
                                  b.dry_run()    ? "dry-run"
                                  : b.enforced() ? "yes"
                                                 : "NO",
                                  OrDash(b.reason())};
  if (wide) {
    std::string ids;
    for (int64_t id : b.alert_ids()) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    row.push_back(OrDash(ids));
  }
  return row;
}

void PrintStatus(const v1::Status& s, bool wide, std::ostream& out) {
  Table table({"FIELD", "VALUE"});
  table.Add({"version", s.version()});
  if (s.has_started()) {
    table.Add({"started", Time(s.started()) + " (up " +
                              FormatDuration(s.uptime_seconds() * 1'000'000'000) + ")"});
  }
  if (s.interfaces().empty()) table.Add({"interfaces", "none"});
  for (const v1::InterfaceStatus& i : s.interfaces()) {
    std::string text = i.name() + " (ifindex " + std::to_string(i.ifindex()) + ", " + i.backend();
    if (!i.xdp_mode().empty()) text += ", xdp " + i.xdp_mode();
    if (i.tc_egress()) text += ", tc egress";
    table.Add({"interface", text + ")"});
  }
  table.Add({"stored flows", std::to_string(s.stored_flows())});
  table.Add({"active blocks", std::to_string(s.active_blocks())});
  table.Add({"loss", "ring drops " + std::to_string(s.ring_drops()) + ", flow insert failures " +
                         std::to_string(s.flow_insert_failures()) + ", queue overflows " +
                         std::to_string(s.queue_overflows()) + ", evicted flows " +
                         std::to_string(s.flows_evicted())});
  table.Add(
      {"coverage", s.coverage_degraded() ? "DEGRADED (loss within the last minute)" : "full"});
  table.Add({"model", s.active_model().empty() ? "none (rules only)" : s.active_model()});
  if (wide) {
    const std::map<std::string, uint64_t> sorted(s.counters().begin(), s.counters().end());
    for (const auto& [name, value] : sorted) table.Add({"counter " + name, std::to_string(value)});
  }
  table.Print(out);
}

}  // namespace netguard::ctl
