#include "features/flow_csv.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string_view>

namespace netguard::features {

namespace {

// A row is written through a char pointer into a buffer of kMaxRow bytes, never checked per
// column: every field has a bound (kMaxField, an address INET6_ADDRSTRLEN), and a row has
// kFeatureCount + 7 fields. std::string appends (a capacity check and a call each) were a
// tenth of an offline run with a flows CSV.
constexpr size_t kMaxField = 32;    // a double's shortest form is at most 24 characters, + ".0"
constexpr size_t kMaxAddress = 46;  // INET6_ADDRSTRLEN
constexpr size_t kMaxRow = (kFeatureCount + 8) * kMaxField + 4 * kMaxAddress;

char* PutInt(char* p, int64_t value) { return std::to_chars(p, p + kMaxField, value).ptr; }

char* PutChar(char* p, char c) {
  *p = c;
  return p + 1;
}

char* PutText(char* p, std::string_view text) {
  std::memcpy(p, text.data(), std::min(text.size(), kMaxAddress));
  return p + std::min(text.size(), kMaxAddress);
}

char* PutTwoDigits(char* p, unsigned value) {
  p[0] = static_cast<char>('0' + value / 10 % 10);
  p[1] = static_cast<char>('0' + value % 10);
  return p + 2;
}

char* PutFlowId(char* p, const FlowRecord& flow, const Endpoint& src, const Endpoint& dst) {
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
  p = PutChar(PutText(p, first.address), '-');
  p = PutChar(PutText(p, second.address), '-');
  p = PutChar(PutInt(p, first.port), '-');
  p = PutChar(PutInt(p, second.port), '-');
  return PutInt(p, flow.key.proto);
}

// "dd/MM/yyyy HH:mm:ss"; the years of int64 nanoseconds since the epoch have four digits.
char* PutTimestamp(char* p, int64_t unix_ns) {
  using namespace std::chrono;
  const sys_seconds t = floor<seconds>(sys_time<nanoseconds>(nanoseconds(unix_ns)));
  const sys_days day = floor<days>(t);
  const year_month_day ymd(day);
  const hh_mm_ss<seconds> hms(t - day);
  const auto year = static_cast<unsigned>(static_cast<int>(ymd.year()));
  p = PutChar(PutTwoDigits(p, static_cast<unsigned>(ymd.day())), '/');
  p = PutChar(PutTwoDigits(p, static_cast<unsigned>(ymd.month())), '/');
  p = PutTwoDigits(PutTwoDigits(p, year / 100), year % 100);
  p = PutChar(p, ' ');
  p = PutChar(PutTwoDigits(p, static_cast<unsigned>(hms.hours().count())), ':');
  p = PutChar(PutTwoDigits(p, static_cast<unsigned>(hms.minutes().count())), ':');
  return PutTwoDigits(p, static_cast<unsigned>(hms.seconds().count()));
}

char* PutFeature(char* p, double value, bool integer) {
  if (std::isnan(value)) return PutText(p, "NaN");
  if (std::isinf(value)) return PutText(p, value > 0 ? "Infinity" : "-Infinity");
  if (integer) return PutInt(p, static_cast<int64_t>(value));
  if (std::abs(value) < 1e5 && value == std::trunc(value) && !std::signbit(value)) {
    // Most real columns hold small whole numbers (0.0 above all). Below 1e5 the shortest form
    // is the fixed one ("99999", not "1e+05"), so this is to_chars' text without its cost;
    // -0.0 ("-0.0") and negative values take the general path.
    return PutText(PutInt(p, static_cast<int64_t>(value)), ".0");
  }
  char* const end = std::to_chars(p, p + kMaxField, value).ptr;
  if (std::find_if(p, end, [](char c) { return c == '.' || c == 'e'; }) == end)
    return PutText(end, ".0");
  return end;
}

}  // namespace

std::string CicFlowId(const FlowRecord& flow) {
  char text[4 * kMaxAddress];
  return {text, PutFlowId(text, flow, Initiator(flow), Responder(flow))};
}

std::string CicTimestamp(int64_t unix_ns) {
  char text[kMaxField];
  return {text, PutTimestamp(text, unix_ns)};
}

void AppendFeature(std::string& out, double value, bool integer) {
  char text[kMaxField];
  out.append(text, PutFeature(text, value, integer));
}

FlowCsvWriter::FlowCsvWriter(std::ostream& out) : out_(out), row_(kMaxRow, '\0') {}

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
  char* const row = row_.data();
  char* p = PutChar(PutFlowId(row, flow, src, dst), ',');
  p = PutChar(PutText(p, src.address), ',');
  p = PutChar(PutInt(p, src.port), ',');
  p = PutText(p, dst.address);
  for (size_t i = 0; i < kFeatureCount; i++) {
    p = PutFeature(PutChar(p, ','), features[i], IsIntegerFeature(i));
    if (i == 0) {
      p = PutChar(PutInt(PutChar(p, ','), flow.key.proto), ',');
      p = PutTimestamp(p, flow.start_ns);
    }
  }
  p = PutChar(p, '\n');
  out_.write(row, p - row);
}

}  // namespace netguard::features
