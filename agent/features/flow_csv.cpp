#include "features/flow_csv.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace netguard::features {

std::string CicFlowId(const FlowRecord& flow) {
  const Endpoint src = Initiator(flow);
  const Endpoint dst = Responder(flow);
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
  return first.address + "-" + second.address + "-" + std::to_string(first.port) + "-" +
         std::to_string(second.port) + "-" + std::to_string(flow.key.proto);
}

std::string CicTimestamp(int64_t unix_ns) {
  using namespace std::chrono;
  const sys_seconds t = floor<seconds>(sys_time<nanoseconds>(nanoseconds(unix_ns)));
  const sys_days day = floor<days>(t);
  const year_month_day ymd(day);
  const hh_mm_ss<seconds> hms(t - day);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%02u/%02u/%04d %02d:%02d:%02d", static_cast<unsigned>(ymd.day()),
                static_cast<unsigned>(ymd.month()), static_cast<int>(ymd.year()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

std::string FormatFeature(double value, bool integer) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  if (integer) return std::to_string(static_cast<int64_t>(value));
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  (void)ec;
  std::string text(buf, end);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
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
  out_ << CicFlowId(flow) << ',' << src.address << ',' << src.port << ',' << dst.address;
  for (size_t i = 0; i < kFeatureCount; i++) {
    out_ << ',' << FormatFeature(features[i], IsIntegerFeature(i));
    if (i == 0)
      out_ << ',' << static_cast<int>(flow.key.proto) << ',' << CicTimestamp(flow.start_ns);
  }
  out_ << '\n';
}

}  // namespace netguard::features
