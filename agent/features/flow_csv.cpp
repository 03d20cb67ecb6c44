#include "features/flow_csv.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>

namespace netguard::features {

namespace {

void AppendInt(std::string& out, int64_t value) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  (void)ec;
  out.append(buf, end);
}

void AppendTwoDigits(std::string& out, unsigned value) {
  out += static_cast<char>('0' + value / 10 % 10);
  out += static_cast<char>('0' + value % 10);
}

void AppendFlowId(std::string& out, const FlowRecord& flow, const Endpoint& src,
                  const Endpoint& dst) {
  const bool init_a = flow.acc.initiator == NG_SIDE_A;
  const auto* sb =
      reinterpret_cast<const unsigned char*>(init_a ? flow.key.addr_a : flow.key.addr_b);
  const auto* db =
      reinterpret_cast<const unsigned char*>(init_a ? flow.key.addr_b : flow.key.addr_a);
  const size_t len = flow.key.family == NG_FAMILY_IPV4 ? 4 : 16;
  bool forward = true;
  for (size_t i = 0; i < len; i++) {
    const auto s = static_cast<signed char>(sb[i]), d = static_cast<signed char>(db[i]);
    if (s != d) {
      forward = s < d;
      break;
    }
  }
  const Endpoint& first = forward ? src : dst;
  const Endpoint& second = forward ? dst : src;
  out += first.address;
  out += '-';
  out += second.address;
  out += '-';
  AppendInt(out, first.port);
  out += '-';
  AppendInt(out, second.port);
  out += '-';
  AppendInt(out, flow.key.proto);
}

// "dd/MM/yyyy HH:mm:ss"; the years of int64 nanoseconds since the epoch have four digits.
void AppendTimestamp(std::string& out, int64_t unix_ns) {
  using namespace std::chrono;
  const sys_seconds t = floor<seconds>(sys_time<nanoseconds>(nanoseconds(unix_ns)));
  const sys_days day = floor<days>(t);
  const year_month_day ymd(day);
  const hh_mm_ss<seconds> hms(t - day);
  const auto year = static_cast<unsigned>(static_cast<int>(ymd.year()));
  AppendTwoDigits(out, static_cast<unsigned>(ymd.day()));
  out += '/';
  AppendTwoDigits(out, static_cast<unsigned>(ymd.month()));
  out += '/';
  AppendTwoDigits(out, year / 100);
  AppendTwoDigits(out, year % 100);
  out += ' ';
  AppendTwoDigits(out, static_cast<unsigned>(hms.hours().count()));
  out += ':';
  AppendTwoDigits(out, static_cast<unsigned>(hms.minutes().count()));
  out += ':';
  AppendTwoDigits(out, static_cast<unsigned>(hms.seconds().count()));
}

}  // namespace

std::string CicFlowId(const FlowRecord& flow) {
  std::string id;
  AppendFlowId(id, flow, Initiator(flow), Responder(flow));
  return id;
}

std::string CicTimestamp(int64_t unix_ns) {
  std::string text;
  AppendTimestamp(text, unix_ns);
  return text;
}

void AppendFeature(std::string& out, double value, bool integer) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "Infinity" : "-Infinity";
  } else if (integer) {
    AppendInt(out, static_cast<int64_t>(value));
  } else if (std::abs(value) < 1e5 && value == std::trunc(value) && !std::signbit(value)) {
    // Most real columns hold small whole numbers (0.0 above all). Below 1e5 the shortest form
    // is the fixed one ("99999", not "1e+05"), so this is to_chars' text without its cost;
    // -0.0 ("-0.0") and negative values take the general path.
    AppendInt(out, static_cast<int64_t>(value));
    out += ".0";
  } else {
    char buf[64];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
    (void)ec;
    out.append(buf, end);
    if (std::find_if(buf, end, [](char c) { return c == '.' || c == 'e'; }) == end) out += ".0";
  }
}

void FlowCsvWriter::WriteHeader() {
  out_ << "Flow ID, Source IP, Source Port, Destination IP";
  const auto& names = FeatureNamesRaw();
  for (size_t i = 0; i < kFeatureCount; i++) {
    out_ << ',' << names[i];
    if (i == 0) out_ << ", Protocol, Timestamp";
  }
  out_ << '\n';
}

void FlowCsvWriter::WriteRow(const FlowRecord& flow, const FeatureVector& features) {
  const Endpoint src = Initiator(flow);
  const Endpoint dst = Responder(flow);
  // The row is built in one reused buffer and written at once: no stream call per column.
  row_.clear();
  AppendFlowId(row_, flow, src, dst);
  row_ += ',';
  row_ += src.address;
  row_ += ',';
  AppendInt(row_, src.port);
  row_ += ',';
  row_ += dst.address;
  for (size_t i = 0; i < kFeatureCount; i++) {
    row_ += ',';
    AppendFeature(row_, features[i], IsIntegerFeature(i));
    if (i == 0) {
      row_ += ',';
      AppendInt(row_, flow.key.proto);
      row_ += ',';
      AppendTimestamp(row_, flow.start_ns);
    }
  }
  row_ += '\n';
  out_.write(row_.data(), static_cast<std::streamsize>(row_.size()));
}

}  // namespace netguard::features
