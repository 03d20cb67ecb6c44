// `ngctl ip ADDR`: one address's reputation, alerts, flows and block state (GetIp).
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "time_text.h"

namespace netguard::ctl {
namespace {

int64_t Ns(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1'000'000'000 + ts.nanos();
}

std::string Score(double score) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f", score);
  return text;
}

// "enforced, auto, expires ... (in 9m), 12 packets dropped: reason" or "no".
std::string BlockText(const v1::IpInfo& info, int64_t now_ns) {
  if (!info.has_block()) return "no";
  const v1::BlockEntry& b = info.block();
  std::string text = b.prefix() + " ";
  text += b.dry_run() ? "would block (dry-run)" : b.enforced() ? "enforced" : "NOT enforced";
  text += b.automatic() ? ", auto" : ", manual";
  if (b.has_expires()) {
    text += ", expires " + FormatTime(Ns(b.expires())) + " (in " +
            FormatDuration(Ns(b.expires()) - now_ns) + ")";
  } else {
    text += ", never expires";
  }
  if (!b.dry_run()) text += ", " + std::to_string(b.packets()) + " packets dropped";
  if (!b.reason().empty()) text += ": " + b.reason();
  return text;
}

}  // namespace

int RunIp(Client& client, Format format, const std::string& address, uint32_t limit) {
  v1::GetIpRequest request;
  request.set_address(address);
  request.set_limit(limit);
  v1::IpInfo info;
  const grpc::Status s = client.stub().GetIp(client.UnaryContext().get(), request, &info);
  if (!s.ok()) throw client.Failure(s);
  if (format == Format::kJson) {
    std::cout << ToJsonLine(info) << '\n';
    return kExitOk;
  }
  const bool wide = format == Format::kWide;
  const int64_t now = NowNs();
  Table summary({"FIELD", "VALUE"});
  summary.Add({"address", info.address()});
  summary.Add({"verdict", info.verdict()});
  summary.Add({"score", Score(info.score())});
  summary.Add({"allowlisted", info.allowlisted() ? "yes" : "no"});
  summary.Add({"listed malicious", info.listed_malicious() ? "yes" : "no"});
  summary.Add({"alerts", std::to_string(info.alert_count())});
  summary.Add({"offences", std::to_string(info.offences())});
  if (info.has_first_seen()) summary.Add({"first seen", FormatTime(Ns(info.first_seen()))});
  if (info.has_last_seen()) summary.Add({"last seen", FormatTime(Ns(info.last_seen()))});
  summary.Add({"blocked", BlockText(info, now)});
  summary.Print(std::cout);
  if (!info.recent_alerts().empty()) {
    std::cout << "\nrecent alerts\n";
    Table alerts(AlertHeader(wide));
    for (const v1::Alert& a : info.recent_alerts()) alerts.Add(AlertRow(a, wide));
    alerts.Print(std::cout);
  }
  if (!info.recent_flows().empty()) {
    std::cout << "\nrecent flows\n";
    Table flows(FlowHeader(wide));
    for (const v1::Flow& f : info.recent_flows()) flows.Add(FlowRow(f, wide));
    flows.Print(std::cout);
  }
  return kExitOk;
}

}  // namespace netguard::ctl
