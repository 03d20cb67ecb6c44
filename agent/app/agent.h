// The agent: every part of netguardd, started in order and stopped in reverse.
#ifndef NETGUARD_AGENT_APP_AGENT_H_
#define NETGUARD_AGENT_APP_AGENT_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "app/startup.h"
#include "config/config.h"
#include "core/status.h"

namespace netguard::capture {
class EbpfDataPlane;
class Blocklist;
}  // namespace netguard::capture
namespace netguard::store {
class Store;
}
namespace netguard::respond {
class BlockManager;
}
namespace netguard::pipeline {
class FlowPipeline;
class FlowSink;
class PcapLivePipeline;
class StreamNotifier;
}  // namespace netguard::pipeline
namespace netguard::api {
class ApiServer;
class HttpApi;
}  // namespace netguard::api
namespace netguard::app {
class ResponseSetup;
}
namespace netguard::detect::rules {
class RulesEngine;
}
namespace netguard::detect::ml {
class ModelSlot;
}

namespace netguard::app {

extern const char kVersion[];

class Agent {
 public:
  /// Re-reads the configuration on SIGHUP, with the same command-line overrides as at start.
  using ConfigLoader = std::function<config::Config()>;

  /// `reload` is called on SIGHUP (empty: nothing to reload); `config_path` names the file in
  /// messages.
  Agent(config::Config config, std::string config_path, ConfigLoader reload);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  /// Starts every part, serves until SIGINT/SIGTERM, then shuts down in order: stop the API,
  /// stop capture, flush flows, close the store; the blocklist stays pinned. Returns the exit
  /// code. SIGHUP reloads the allowlist, log level, rules, reputation, response and model bundle.
  int Run();

  AgentStatus Status() const;

 private:
  void BuildSteps();
  void AddEbpfSteps();
  void AddPcapLiveSteps();
  void AddResponseStep();
  void Reload();
  /// Creates the rules engine from `c` (rules file, port_scan alias) and adds it to the sink.
  /// Throws detect::rules::RulesError naming the rule and line.
  void AddRulesEngine(const config::Config& c);
  /// Re-reads the rule set (rules file, port_scan alias) into the engine; returns its source.
  /// Throws detect::rules::RulesError: the running rules stay.
  std::string ReloadRules();
  void ReloadModel(const config::Config& next);
  bool pcap_live() const;

  config::Config config_;
  std::string config_path_;
  ConfigLoader reload_;
  int64_t started_ns_ = 0;
  Startup startup_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<capture::EbpfDataPlane> dataplane_;
  std::unique_ptr<capture::Blocklist> blocklist_;
  std::unique_ptr<respond::BlockManager> blocks_;  // null with pcap-live (no blocklist)
  std::unique_ptr<pipeline::StreamNotifier> notifier_;
  std::unique_ptr<pipeline::FlowSink> sink_;          // detectors, alerts, flow history
  detect::rules::RulesEngine* rules_ = nullptr;       // owned by sink_
  std::mutex rules_mu_;                               // config_.rules and .port_scan
  std::unique_ptr<pipeline::FlowPipeline> pipeline_;  // capture.backend ebpf
  std::jthread pipeline_thread_;
  std::unique_ptr<pipeline::PcapLivePipeline> pcap_;  // capture.backend pcap-live
  std::unique_ptr<api::ApiServer> api_;               // started last, stopped first
  std::unique_ptr<ResponseSetup> response_;           // reputation and auto-block policy
  std::unique_ptr<api::HttpApi> http_;                // the HTTP face of api_, after it
  std::shared_ptr<detect::ml::ModelSlot> models_;     // null when model.enabled is false
};

}  // namespace netguard::app

#endif  // NETGUARD_AGENT_APP_AGENT_H_
