// netguardd: the NetGuard agent.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <string>
#include <vector>

#include "app/offline.h"
#include "app/rules_setup.h"
#include "config/config.h"
#include "features/features.h"
#ifndef NETGUARD_OFFLINE_ONLY
#include "app/agent.h"
#endif

namespace {

// netguardd --read: the offline pipeline on a capture file, then exit (no eBPF data plane).
// Exit codes: 0 done, 1 the capture is truncated or corrupt (outputs hold everything read
// before the bad record), 2 the input or an output cannot be opened.
int RunOffline(netguard::app::OfflineOptions options, const netguard::config::Config& config) {
  options.model_anomalies = config.model.anomalies;
  try {
    options.rule_set = netguard::app::RuleSetFrom(config);
    options.engine = netguard::app::EngineOptionsFrom(config);
    const netguard::app::OfflineSummary summary = netguard::app::RunOffline(options);
    spdlog::info("{}: {} packets, {} flows, {} flow rows ({}), {} alerts", options.input,
                 summary.packets, summary.flows, summary.flow_rows,
                 netguard::features::ToString(options.mode), summary.alerts);
    if (!summary.ok) {
      spdlog::error("{}", summary.error);
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 2;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{
      "netguardd - NetGuard network intrusion detection agent.\n"
      "Runs with no configuration file at all: the command-line options override the "
      "file's values and the built-in defaults (see packaging/netguard.yaml)."};
  std::string config_path;
  std::vector<std::string> interfaces;
  std::string socket;
  std::string store;
  std::string log_level;
  std::string pin_dir;
  std::string xdp_mode;
  std::string http_address;
  std::string dashboard_dir;
  cli.add_option("-c,--config", config_path, "YAML configuration file (reloaded on SIGHUP)")
      ->check(CLI::ExistingFile);
  cli.add_option("-i,--interface", interfaces,
                 "Interface to monitor (repeatable; adds to capture.interfaces)");
  cli.add_option("--socket", socket, "gRPC unix socket (api.socket)");
  cli.add_option("--store", store, "SQLite database (store.path)");
  cli.add_option("--log-level", log_level, "trace, debug, info, warn, error or off (log_level)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  cli.add_option("--bpf-pin-dir", pin_dir,
                 "bpffs directory of the pinned blocklist and counters "
                 "(capture.bpf_pin_dir)");
  cli.add_option("--xdp-mode", xdp_mode,
                 "auto (native, else generic) or generic (capture.xdp_mode)")
      ->check(CLI::IsMember({"auto", "generic"}));
  cli.add_option("--http", http_address,
                 "HTTP API and dashboard listener ADDR:PORT (http.address; 'off' disables)");
  cli.add_option("--dashboard-dir", dashboard_dir,
                 "Directory of the dashboard's built files (http.dashboard_dir)");
  netguard::app::OfflineOptions offline;
  std::string feature_mode = std::string(netguard::features::kModeCic2017);
  auto* read = cli.add_option("--read", offline.input,
                              "Analyse a pcap/pcapng file offline and exit (no eBPF, no daemon)")
                   ->check(CLI::ExistingFile);
  cli.add_option("--features", feature_mode, "Feature mode of --read: cic2017 or corrected")
      ->check(CLI::IsMember({std::string(netguard::features::kModeCic2017),
                             std::string(netguard::features::kModeCorrected)}))
      ->needs(read);
  cli.add_option("--flows-csv", offline.flows_csv,
                 "With --read: write flows with CICFlowMeter columns to this CSV")
      ->needs(read);
  cli.add_option("--alerts-json", offline.alerts_json,
                 "With --read: write alerts as JSON lines to this file")
      ->needs(read);
  cli.add_option("--model", offline.model,
                 "With --read: classify flows with this model bundle directory (its feature "
                 "mode must equal --features)")
      ->check(CLI::ExistingDirectory)
      ->needs(read);
  bool no_rules = false;
  cli.add_flag("--no-rules", no_rules,
               "With --read: flows and features only, without the behavioural rules (e.g. to "
               "make a training set)")
      ->needs(read);
#ifndef NETGUARD_OFFLINE_ONLY
  cli.set_version_flag("--version", netguard::app::kVersion);
#endif
  CLI11_PARSE(cli, argc, argv);

  netguard::config::Config config;
  try {
    if (!config_path.empty()) config = netguard::config::LoadConfigFile(config_path);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 2;
  }
  // The command line wins over the file, at start and at every SIGHUP reload.
  const auto apply_overrides = [=](netguard::config::Config& c) {
    c.capture.interfaces.insert(c.capture.interfaces.end(), interfaces.begin(), interfaces.end());
    if (!socket.empty()) c.api.socket = socket;
    if (!store.empty()) c.store.path = store;
    if (!log_level.empty()) c.log_level = log_level;
    if (!pin_dir.empty()) c.capture.bpf_pin_dir = pin_dir;
    if (!xdp_mode.empty()) c.capture.xdp_generic_only = xdp_mode == "generic";
    if (http_address == "off") c.http.enabled = false;
    if (!http_address.empty() && http_address != "off") {
      c.http.enabled = true;
      c.http.address = http_address;
    }
    if (!dashboard_dir.empty()) c.http.dashboard_dir = dashboard_dir;
  };
  apply_overrides(config);
  if (!offline.input.empty()) {
    spdlog::set_level(spdlog::level::from_str(config.log_level));
    offline.mode = *netguard::features::ParseFeatureMode(feature_mode);
    offline.rules = !no_rules;
    return RunOffline(std::move(offline), config);
  }
#ifdef NETGUARD_OFFLINE_ONLY
  spdlog::critical("built without eBPF: only offline analysis (--read FILE) is available");
  return 2;
#else
  if (config.capture.interfaces.empty()) {
    spdlog::critical("no interface to monitor: pass --interface IF or set capture.interfaces");
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  try {
    netguard::app::Agent::ConfigLoader reload;
    if (!config_path.empty()) {
      reload = [config_path, apply_overrides] {
        netguard::config::Config c = netguard::config::LoadConfigFile(config_path);
        apply_overrides(c);
        return c;
      };
    }
    netguard::app::Agent agent(std::move(config), config_path, std::move(reload));
    return agent.Run();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
#endif
}
