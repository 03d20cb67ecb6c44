// ngctl: the command-line client of netguardd's gRPC API.
//
// Exit codes: 0 ok, 1 the agent refused or failed the request (its message is printed),
// 2 usage, 3 the agent cannot be reached (one line on stderr saying why).
#include <grpc/support/log.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <optional>
#include <string>

#include "client.h"
#include "commands.h"
#include "model_command.h"
#include "rules_command.h"
#include "time_text.h"

namespace {

using netguard::ctl::CommandError;
using netguard::ctl::kExitUsage;

// gRPC's own log lines would break "one clear line" on errors; GRPC_VERBOSITY brings them back.
void QuietGrpcLog(gpr_log_func_args*) {}

std::optional<int64_t> SinceOption(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::optional<int64_t> ns = netguard::ctl::ParseSinceNs(text, netguard::ctl::NowNs());
  if (!ns) {
    throw CommandError(kExitUsage,
                       "ngctl: --since: expected a duration such as 30m or 2h, or an "
                       "RFC 3339 time such as 2024-05-01T12:00:00Z, got '" +
                           text + "'");
  }
  return ns;
}

netguard::v1::Severity SeverityOption(const std::string& text) {
  if (text == "info") return netguard::v1::SEVERITY_INFO;
  if (text == "warning") return netguard::v1::SEVERITY_WARNING;
  if (text == "high") return netguard::v1::SEVERITY_HIGH;
  if (text == "critical") return netguard::v1::SEVERITY_CRITICAL;
  return netguard::v1::SEVERITY_UNSPECIFIED;
}

uint32_t TtlOption(const std::string& text) {
  if (text.empty() || text == "0") return 0;
  const std::optional<int64_t> ns = netguard::ctl::ParseDurationNs(text);
  const int64_t seconds = ns ? (*ns + 999'999'999) / 1'000'000'000 : 0;
  if (!ns || seconds > std::numeric_limits<uint32_t>::max()) {
    throw CommandError(
        kExitUsage, "ngctl: --ttl: expected a duration such as 30m, 12h or 7d, got '" + text + "'");
  }
  return static_cast<uint32_t>(seconds);
}

}  // namespace

int main(int argc, char** argv) {
  if (std::getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function(QuietGrpcLog);

  CLI::App app{
      "ngctl - query and control the NetGuard agent (netguardd).\n"
      "Exit codes: 0 ok, 1 agent error, 2 usage, 3 agent unreachable."};
  app.require_subcommand(1);
  app.fallthrough();

  std::string output = "table";
  netguard::ctl::Target target;
  app.add_option("-o,--output", output, "table, wide (more columns) or json (one object per line)")
      ->check(CLI::IsMember({"table", "wide", "json"}));
  app.add_option("--socket", target.socket, "The agent's unix socket")->capture_default_str();
  app.add_option("--addr", target.addr,
                 "HOST:PORT of the agent's TCP listener (TLS) instead of the socket; give it "
                 "before the subcommand");
  app.add_option("--token-file", target.token_file, "File with the bearer token (TCP)");
  app.add_option("--ca-cert", target.ca_cert, "PEM CA certificate of the agent's TLS listener");
  app.add_flag("--insecure", target.insecure,
               "Plaintext TCP (an api.tcp.insecure loopback listener)");

  CLI::App* status = app.add_subcommand("status", "Version, uptime, capture, counters and loss");

  netguard::ctl::AlertsOptions alerts_options;
  std::string alerts_since;
  std::string severity;
  CLI::App* alerts = app.add_subcommand("alerts", "Stored alerts, oldest first (newest last)");
  alerts->add_option("--since", alerts_since,
                     "Only alerts since DUR ago (30m, 2h) or an RFC 3339 time");
  alerts->add_option("--class", alerts_options.alert_class, "Alert class, e.g. PortScan");
  alerts->add_option("--src", alerts_options.src, "Source address");
  alerts->add_option("--dst", alerts_options.dst, "Destination address");
  alerts->add_option("--severity", severity, "Minimum severity: info, warning, high, critical")
      ->check(CLI::IsMember({"info", "warning", "high", "critical"}));
  alerts->add_option("--limit", alerts_options.limit, "Newest N alerts")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  alerts->add_flag("-f,--follow", alerts_options.follow, "Then print new alerts as they come");

  netguard::ctl::FlowsOptions flows_options;
  std::string flows_since;
  CLI::App* flows = app.add_subcommand("flows", "Finished flows from the history, oldest first");
  flows->add_option("--since", flows_since, "Only flows since DUR ago or an RFC 3339 time");
  flows->add_option("--addr", flows_options.address, "Source or destination address");
  flows->add_option("--port", flows_options.port, "Source or destination port")
      ->check(CLI::Range(1u, 65535u));
  flows->add_option("--proto", flows_options.protocol, "TCP, UDP, ICMP, ICMPv6 or a number");
  flows->add_option("--limit", flows_options.limit, "Newest N flows")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  flows->add_flag("-f,--follow", flows_options.follow, "Then print new flows as they finish");

  std::string block_prefix;
  std::string ttl;
  std::string reason;
  CLI::App* block = app.add_subcommand("block", "Drop traffic from PREFIX at XDP");
  block->add_option("PREFIX", block_prefix, "CIDR or address")->required();
  block->add_option("--ttl", ttl, "Remove the block after DUR (30m, 12h, 7d); default never");
  block->add_option("--reason", reason, "Why (shown in `ngctl blocks`)");

  std::string unblock_prefix;
  CLI::App* unblock = app.add_subcommand("unblock", "Remove the block of PREFIX");
  unblock->add_option("PREFIX", unblock_prefix, "CIDR or address, as blocked")->required();

  CLI::App* blocks = app.add_subcommand("blocks", "Blocks with their live drop counters");

  int64_t ack_id = 0;
  std::string feedback;
  CLI::App* ack = app.add_subcommand("ack", "Acknowledge an alert, optionally with feedback");
  ack->add_option("ID", ack_id, "Alert id")->required()->check(CLI::PositiveNumber);
  ack->add_option("--feedback", feedback, "tp (true positive), fp (false positive) or none")
      ->check(CLI::IsMember({"tp", "fp", "none"}));

  std::string ip_address;
  uint32_t ip_limit = 20;
  CLI::App* ip = app.add_subcommand("ip", "One address: reputation, alerts, flows, block state");
  ip->add_option("ADDR", ip_address, "IPv4 or IPv6 address")->required();
  ip->add_option("--limit", ip_limit, "Most recent N alerts and flows")
      ->check(CLI::Range(1u, 10'000u))
      ->capture_default_str();

  std::string rules_action = "list";
  std::string rule_name;
  CLI::App* rules = app.add_subcommand("rules", "Behavioural rules: list, enable/disable, reload");
  rules->add_option("ACTION", rules_action, "list (default), enable, disable or reload")
      ->check(CLI::IsMember({"list", "enable", "disable", "reload"}));
  rules->add_option("NAME", rule_name, "The rule to enable or disable");

  std::vector<std::string> country_addresses;
  CLI::App* countries =
      app.add_subcommand("countries", "Country of each address (the agent's GeoIP database)");
  countries->add_option("ADDRESS", country_addresses, "IPv4 or IPv6 addresses")->required();

  CLI::App* model = app.add_subcommand("model", "The active model bundle and its metrics");
  model->add_subcommand("show", "Bundle, per-class held-out metrics, top features (default)");
  std::string model_path;
  CLI::App* model_reload =
      model->add_subcommand("reload", "Load a bundle (default: the configured model.path)");
  model_reload->add_option("PATH", model_path, "Bundle directory, as the agent sees it");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  const netguard::ctl::Format format = output == "json"   ? netguard::ctl::Format::kJson
                                       : output == "wide" ? netguard::ctl::Format::kWide
                                                          : netguard::ctl::Format::kTable;
  try {
    alerts_options.since_ns = SinceOption(alerts_since);
    alerts_options.min_severity = SeverityOption(severity);
    flows_options.since_ns = SinceOption(flows_since);
    const uint32_t ttl_seconds = TtlOption(ttl);

    netguard::ctl::Client client(target);
    client.Connect();
    if (*status) return RunStatus(client, format);
    if (*alerts) return RunAlerts(client, format, alerts_options);
    if (*flows) return RunFlows(client, format, flows_options);
    if (*block) return RunBlock(client, format, block_prefix, ttl_seconds, reason);
    if (*unblock) return RunUnblock(client, format, unblock_prefix);
    if (*blocks) return RunBlocks(client, format);
    if (*rules) {
      if ((rules_action == "enable" || rules_action == "disable") && rule_name.empty()) {
        std::cerr << "ngctl rules " << rules_action << ": NAME is required" << std::endl;
        return kExitUsage;
      }
      return netguard::ctl::RunRules(client, format, rules_action, rule_name);
    }
    if (*countries) return netguard::ctl::RunCountries(client, format, country_addresses);
    if (*ack) {
      std::optional<netguard::v1::Feedback> verdict;
      if (feedback == "tp") verdict = netguard::v1::FEEDBACK_TRUE_POSITIVE;
      if (feedback == "fp") verdict = netguard::v1::FEEDBACK_FALSE_POSITIVE;
      if (feedback == "none") verdict = netguard::v1::FEEDBACK_UNSPECIFIED;
      return RunAck(client, format, ack_id, verdict);
    }
    if (*ip) return RunIp(client, format, ip_address, ip_limit);
    if (*model) {
      return *model_reload ? netguard::ctl::RunModelReload(client, format, model_path)
                           : netguard::ctl::RunModelShow(client, format);
    }
  } catch (const CommandError& e) {
    std::cout.flush();
    std::cerr << e.what() << std::endl;
    return e.code();
  } catch (const std::exception& e) {
    std::cerr << "ngctl: " << e.what() << std::endl;
    return netguard::ctl::kExitAgentError;
  }
  return kExitUsage;
}
