#include "app/agent.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "api/http_api.h"
#include "api/server.h"
#include "api/service.h"
#include "app/response_setup.h"
#include "app/rules_setup.h"
#include "capture/blocklist.h"
#include "capture/bpf_stats.h"
#include "capture/ebpf_dataplane.h"
#include "common/clock.h"
#include "detect/ml/ml_detector.h"
#include "detect/ml/model_slot.h"
#include "detect/rules/engine.h"
#include "features/features.h"
#include "geo/country_lookup.h"
#include "pipeline/flow_pipeline.h"
#include "pipeline/flow_sink.h"
#include "pipeline/pcap_live_pipeline.h"
#include "pipeline/stream_notifier.h"
#include "respond/block_manager.h"
#include "store/store.h"

namespace netguard::app {

const char kVersion[] = "0.1.0";

namespace {

detect::ml::MlOptions MlOptionsFrom(const config::Config& c) {
  return {.anomalies = c.model.anomalies};
}

// Loads a bundle into the slot; a failure is logged and the active bundle (or the rules alone)
// stays in charge.
void LoadModel(detect::ml::ModelSlot& slot, const std::string& path, const char* when) {
  try {
    const auto model = slot.Load(path);
    const detect::ml::Bundle& b = model->bundle();
    spdlog::info("{}: model bundle {} from {} ({} features, {} classes, held-out macro-F1 {:.4f})",
                 when, b.name, b.path, b.features.size(), b.classes.size(), b.metrics.macro_f1);
  } catch (const std::exception& e) {
    spdlog::error("{}: model bundle not loaded, {}: {}", when,
                  slot.active() ? "keeping the active bundle" : "running on rules only", e.what());
  }
}

bool Cic2017(const config::Config& c) {
  return features::ParseFeatureMode(c.flows.feature_mode) == features::FeatureMode::kCic2017;
}

// The end flags (enum ng_end_on) of the configured lifecycle: the cic2017 feature mode brings
// its own (features::LifecycleFor); otherwise flows.end_on_fin and end_on_rst.
uint8_t EndFlagsFrom(const config::Config& c) {
  if (Cic2017(c)) return features::LifecycleFor(features::FeatureMode::kCic2017).step.end_flags;
  return static_cast<uint8_t>((c.flows.end_on_fin ? NG_END_ON_FIN : 0) |
                              (c.flows.end_on_rst ? NG_END_ON_RST : 0));
}

// cic2017 has no idle timeout: it equals the active timeout, which makes it inert.
std::chrono::nanoseconds IdleTimeoutFrom(const config::Config& c) {
  return Cic2017(c) ? std::chrono::nanoseconds(c.flows.active_timeout)
                    : std::chrono::nanoseconds(c.flows.idle_timeout);
}

capture::DataPlaneOptions DataPlaneFrom(const config::Config& c) {
  capture::DataPlaneOptions o;
  o.pin_root = c.capture.bpf_pin_dir;
  o.flow_capacity = c.capture.flow_table_size;
  o.ring_bytes = c.capture.ring_buffer_bytes;
  o.activity_timeout =
      std::chrono::duration_cast<std::chrono::microseconds>(c.flows.activity_timeout);
  o.active_timeout = c.flows.active_timeout;
  o.sample_first_n = c.sampling.first_packets;
  o.sample_every_k = c.sampling.one_in;
  capture::SetEndFlags(o, EndFlagsFrom(c));
  o.sample_dns = c.sampling.dns_queries;
  o.sample_arp = c.sampling.arp;
  return o;
}

pipeline::PcapLiveOptions PcapLiveFrom(const config::Config& c) {
  pipeline::PcapLiveOptions o;
  o.table.step = {
      .activity_timeout_us = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(c.flows.activity_timeout).count()),
      .active_timeout_ns = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(c.flows.active_timeout).count()),
      .end_flags = EndFlagsFrom(c)};
  o.table.idle_timeout = IdleTimeoutFrom(c);
  o.table.sweep_interval = c.flows.sweep_interval;
  return o;
}

}  // namespace

Agent::Agent(config::Config config, std::string config_path, ConfigLoader reload)
    : config_(std::move(config)), config_path_(std::move(config_path)), reload_(std::move(reload)) {
  BuildSteps();
}

Agent::~Agent() { startup_.TearDown(); }

bool Agent::pcap_live() const {
  return config_.capture.backend == config::CaptureBackend::kPcapLive;
}

void Agent::BuildSteps() {
  const config::Config& c = config_;
  if (c.capture.backend == config::CaptureBackend::kPcapFile) {
    startup_.Add({.name = "check the capture backend",
                  .up =
                      [] {
                        throw std::invalid_argument(
                            "capture.backend pcap-file is offline analysis, not a daemon");
                      },
                  .hint = "run netguardd --read FILE.pcap, or set capture.backend to ebpf or "
                          "pcap-live"});
  }
  // Before anything touches the interfaces: a second agent must not replace the programs of the
  // one that serves the socket.
  startup_.Add({.name = "check that no other netguardd serves " + c.api.socket,
                .up = [&c] { api::EnsureSocketFree(c.api.socket); },
                .hint = "stop the running netguardd, or pass --socket PATH"});
  startup_.Add({.name = "open store " + c.store.path,
                .up =
                    [this, &c] {
                      store_ = std::make_unique<store::Store>(store::StoreOptions{
                          .path = c.store.path, .max_flows = c.store.max_flows});
                    },
                .down = [this] { store_.reset(); },
                .hint = "check that the directory is writable, or pass --store PATH"});
  startup_.Add({.name = "start the flow sink",
                .up =
                    [this, &c] {
                      notifier_ = std::make_unique<pipeline::StreamNotifier>();
                      sink_ = std::make_unique<pipeline::FlowSink>(*store_, *notifier_);
                      AddRulesEngine(c);
                      if (Cic2017(c)) spdlog::info("flow lifecycle: cic2017 feature mode");
                      if (c.model.enabled) {
                        models_ = std::make_shared<detect::ml::ModelSlot>(
                            *features::ParseFeatureMode(c.flows.feature_mode), c.model.path);
                        LoadModel(*models_, "", "start");
                        sink_->AddDetector(
                            std::make_unique<detect::ml::MlDetector>(models_, MlOptionsFrom(c)));
                      }
                    },
                // After capture stopped and the last flows were stored.
                .down =
                    [this] {
                      notifier_->Close();
                      spdlog::info("flows flushed: {} finished in total",
                                   sink_->counters().flows_finished.load());
                      rules_ = nullptr;
                      sink_.reset();
                    },
                .hint = "fix the rules file named above (rules.file)"});
  if (pcap_live()) {
    AddPcapLiveSteps();
  } else {
    AddEbpfSteps();
  }
  // Last, so it is torn down first: open streams end before capture stops and the store closes.
  startup_.Add({.name = "start the API on " + c.api.socket,
                .up =
                    [this, &c] {
                      auto service = std::make_unique<api::NetGuardService>(
                          [this] { return Status(); }, *store_, blocks_.get(), *notifier_);
                      service->set_reputation(&response_->reputation());
                      service->set_country_lookup(std::make_shared<geo::CountryLookup>(
                          geo::GeoDatabases{.mmdb = c.geoip.mmdb,
                                            .database = c.geoip.database,
                                            .database_v6 = c.geoip.database_v6}));
                      service->set_rules(rules_, [this] { return ReloadRules(); });
                      service->SetModelSlot(models_);
                      api_ = std::make_unique<api::ApiServer>(c.api, std::move(service));
                    },
                .down = [this] { api_.reset(); },
                .hint = "check that the socket's directory is writable and that no other "
                        "netguardd runs, or pass --socket PATH; for api.tcp check the address "
                        "and the TLS and token files"});
  if (c.http.enabled) {
    // After the gRPC server, whose in-process channel it calls; stopped before it.
    startup_.Add({.name = "start the HTTP API and dashboard on " + c.http.address,
                  .up =
                      [this, &c] {
                        http_ = std::make_unique<api::HttpApi>(api::HttpOptionsFrom(c),
                                                               api_->InProcessChannel());
                      },
                  .down = [this] { http_.reset(); },
                  .hint = "choose a free http.address (or --http ADDR:PORT); a non-loopback "
                          "address needs http.tls_cert, http.tls_key and a token file; "
                          "http.enabled: false turns it off"});
  }
}

void Agent::AddEbpfSteps() {
  const config::Config& c = config_;
  startup_.Add({.name = "load the eBPF data plane",
                .up =
                    [this, &c] {
                      dataplane_ = std::make_unique<capture::EbpfDataPlane>(DataPlaneFrom(c));
                      blocklist_ = std::make_unique<capture::Blocklist>(dataplane_->block_v4_fd(),
                                                                        dataplane_->block_v6_fd());
                    },
                .down =
                    [this] {
                      blocklist_.reset();
                      dataplane_.reset();
                    },
                .hint = "netguardd needs root or CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON, and a "
                        "kernel with BTF"});
  startup_.Add({.name = "restore blocks from the store",
                .up =
                    [this, &c] {
                      blocks_ = std::make_unique<respond::BlockManager>(
                          *store_, *blocklist_, respond::BlockPolicy{.allowlist = c.allowlist});
                      const size_t n = blocks_->Restore(WallNowNs());
                      spdlog::info("{} block(s) enforced", n);
                    },
                .down = [this] { blocks_.reset(); }});
  AddResponseStep();
  startup_.Add({.name = "start the flow pipeline",
                .up =
                    [this, &c] {
                      pipeline_ = std::make_unique<pipeline::FlowPipeline>(
                          *dataplane_, *sink_,
                          pipeline::PipelineOptions{.idle_timeout = IdleTimeoutFrom(c),
                                                    .active_timeout = c.flows.active_timeout,
                                                    .sweep_interval = c.flows.sweep_interval});
                      pipeline_thread_ = std::jthread([this](std::stop_token stop) {
                        try {
                          pipeline_->Run(stop);
                        } catch (const std::exception& e) {
                          spdlog::critical("flow pipeline stopped: {}", e.what());
                          kill(getpid(), SIGTERM);
                        }
                      });
                    },
                // Runs after capture stopped: drains the ring, finishes every flow, stores them.
                .down =
                    [this] {
                      pipeline_thread_.request_stop();
                      pipeline_thread_.join();
                      pipeline_.reset();
                    }});
  for (const std::string& interface : c.capture.interfaces) {
    startup_.Add({.name = "attach to " + interface,
                  .up =
                      [this, interface, &c] {
                        dataplane_->Attach(interface,
                                           c.capture.xdp_generic_only
                                               ? capture::XdpModePreference::kGenericOnly
                                               : capture::XdpModePreference::kNativeThenGeneric);
                      },
                  .down = [this, interface] { dataplane_->Detach(interface); },
                  .hint = "check the interface name with `ip link`"});
  }
}

// pcap-live: no eBPF, so no blocklist (the block RPCs answer FAILED_PRECONDITION).
void Agent::AddPcapLiveSteps() {
  const config::Config& c = config_;
  AddResponseStep();
  startup_.Add({.name = "start pcap-live capture",
                .up =
                    [this, &c] {
                      pcap_ = std::make_unique<pipeline::PcapLivePipeline>(*sink_, PcapLiveFrom(c));
                    },
                .down = [this] { pcap_.reset(); }});
  for (const std::string& interface : c.capture.interfaces) {
    startup_.Add({.name = "capture on " + interface + " (pcap-live)",
                  .up = [this, interface] { pcap_->Attach(interface); },
                  // Stops the capture, finishes its flows and stores them.
                  .down = [this, interface] { pcap_->Detach(interface); },
                  .hint = "check the interface name with `ip link`; libpcap needs root or "
                          "CAP_NET_RAW"});
  }
}

// Before capture starts: the policy sees every alert. Torn down after capture stopped.
void Agent::AddResponseStep() {
  const config::Config& c = config_;
  startup_.Add({.name = "start the reputation and auto-block policy",
                .up =
                    [this, &c] {
                      response_ = std::make_unique<ResponseSetup>(c, *store_, blocks_.get());
                      sink_->AddObserver(&response_->observer());
                    },
                .down = [this] { response_.reset(); },
                .hint = "fix the named line of the reputation list file, or the store"});
}

void Agent::Reload() {
  if (!reload_) {
    spdlog::info("SIGHUP: no configuration file to reload");
    return;
  }
  config::Config next;
  try {
    next = reload_();
  } catch (const std::exception& e) {
    spdlog::error("SIGHUP: keeping the running configuration: {}", e.what());
    return;
  }
  spdlog::set_level(spdlog::level::from_str(next.log_level));
  // The allowlist key and files, to the block manager too (it is built whenever blocks_ is).
  if (response_) response_->Reload(next);
  sink_->WithDetectors([&](auto& detectors) {
    for (auto& d : detectors) {
      if (auto* ml = dynamic_cast<detect::ml::MlDetector*>(d.get())) {
        ml->set_options(MlOptionsFrom(next));
      }
    }
  });
  ReloadModel(next);
  if (next.capture != config_.capture || next.flows != config_.flows ||
      next.sampling != config_.sampling || next.store != config_.store || next.api != config_.api ||
      next.rules.max_keys_per_rule != config_.rules.max_keys_per_rule ||
      next.model.enabled != config_.model.enabled) {
    spdlog::warn(
        "SIGHUP: capture, flows, sampling, store, api, rules.max_keys_per_rule and model.enabled "
        "changes take effect at the next restart");
  }
  if (next.http != config_.http || next.geoip != config_.geoip) {
    spdlog::warn("SIGHUP: http and geoip changes take effect at the next restart");
  }
  config_.allowlist = next.allowlist;
  config_.log_level = next.log_level;
  config_.reputation = next.reputation;
  config_.response = next.response;
  {
    std::lock_guard lock(rules_mu_);
    config_.port_scan = next.port_scan;
    config_.rules.file = next.rules.file;
  }
  spdlog::info("SIGHUP: reloaded {}", config_path_);
  try {
    ReloadRules();
  } catch (const std::exception& e) {
    spdlog::error("SIGHUP: keeping the running rules: {}", e.what());
  }
}

void Agent::AddRulesEngine(const config::Config& c) {
  auto rules = std::make_unique<detect::rules::RulesEngine>(RuleSetFrom(c), EngineOptionsFrom(c));
  rules_ = rules.get();
  spdlog::info("rules: {} from {}", rules->Rules().size(),
               rules->source().empty() ? "the built-in defaults" : rules->source());
  sink_->AddDetector(std::move(rules));
}

std::string Agent::ReloadRules() {
  config::Config config;
  {
    std::lock_guard lock(rules_mu_);
    config = config_;
  }
  detect::rules::RuleSet set = RuleSetFrom(config);  // throws: the running set stays
  const size_t n = set.rules.size();
  std::string source = set.source.empty() ? "the built-in defaults" : set.source;
  const std::vector<std::string> overrides = rules_->Replace(std::move(set));
  spdlog::info("rules: reloaded {} from {}", n, source);
  for (const std::string& o : overrides) spdlog::info("rules: {} (ngctl override kept)", o);
  return source;
}

// SIGHUP: the bundle at model.path is loaded again (it may have been replaced in place) and
// swapped in; flows in flight are classified by one bundle or the other, none is dropped.
void Agent::ReloadModel(const config::Config& next) {
  if (!models_) return;
  models_->set_configured_path(next.model.path);
  config_.model.path = next.model.path;
  config_.model.anomalies = next.model.anomalies;
  LoadModel(*models_, "", "SIGHUP");
}

int Agent::Run() {
  // Signals are taken synchronously by this thread; every thread started below inherits the
  // mask, so a SIGTERM during start-up is seen here once start-up is done.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  started_ns_ = WallNowNs();
  startup_.Run();
  spdlog::info("netguardd {} running on {} interface(s)", kVersion,
               config_.capture.interfaces.size());

  const timespec tick{.tv_sec = 1, .tv_nsec = 0};
  for (;;) {
    const int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGINT || sig == SIGTERM) {
      spdlog::info("{}: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
      break;
    }
    if (sig == SIGHUP) Reload();
    if (blocks_) blocks_->ExpireDue(WallNowNs());
  }
  startup_.TearDown();
  if (pcap_live()) {
    spdlog::info("stopped");
  } else {
    spdlog::info("stopped; blocks stay pinned in {} and are enforced again at the next start",
                 config_.capture.bpf_pin_dir);
  }
  return 0;
}

AgentStatus Agent::Status() const {
  AgentStatus s;
  s.version = kVersion;
  s.started_ns = started_ns_;
  const pipeline::PipelineCounters& p = sink_->counters();
  if (pcap_) {
    uint64_t frames = 0, drops = 0;
    for (const pipeline::PcapInterfaceStatus& i : pcap_->interfaces()) {
      s.interfaces.push_back({.name = i.name,
                              .ifindex = i.ifindex,
                              .backend = "pcap-live",
                              .xdp_mode = "",
                              .tc_egress = false});
      frames += i.frames;
      drops += i.kernel_drops;
    }
    s.counters.emplace_back("pcap_frames", frames);
    s.counters.emplace_back("pcap_kernel_drops", drops);
  } else {
    for (const capture::Attachment& a : dataplane_->attachments()) {
      s.interfaces.push_back({.name = a.interface,
                              .ifindex = a.ifindex,
                              .backend = "ebpf",
                              .xdp_mode = std::string(capture::ToString(a.xdp_mode)),
                              .tc_egress = a.tc_egress});
    }
    const capture::StatCounters stats = capture::ReadStats(dataplane_->stats_fd());
    for (uint32_t i = 0; i < NG_STAT_COUNT; ++i) {
      s.counters.emplace_back(std::string(capture::StatName(i)), stats[i]);
    }
    s.ring_drops = stats[NG_STAT_RING_DROPS];
    s.flow_insert_failures = stats[NG_STAT_FLOW_INSERT_FAILED];
  }
  s.counters.emplace_back("flows_started", p.flows_started.load());
  s.counters.emplace_back("flows_finished", p.flows_finished.load());
  s.counters.emplace_back("flows_swept_idle", p.flows_swept_idle.load());
  s.counters.emplace_back("flows_swept_active", p.flows_swept_active.load());
  s.counters.emplace_back("alerts", p.alerts.load());
  s.counters.emplace_back("malformed_records", p.malformed_records.load());
  s.counters.emplace_back("packet_samples", p.packet_samples.load());
  if (rules_) {
    s.counters.emplace_back("rules_windows", rules_->tracked_keys());
    s.counters.emplace_back("rules_evictions", rules_->evictions());
  }
  s.queue_overflows = 0;  // flows are handed on synchronously: there is no queue
  s.flows_evicted = store_->flows_evicted();
  const int64_t last_loss = p.last_loss_ns.load();
  s.coverage_degraded = last_loss != 0 && WallNowNs() - last_loss < 60'000'000'000;
  s.stored_flows = store_->flow_count();
  if (blocks_) {
    for (const respond::BlockView& b : blocks_->List()) s.active_blocks += !b.record.dry_run;
  }
  if (response_) response_->AppendCounters(s.counters);
  if (const auto model = models_ ? models_->active() : nullptr) {
    s.active_model = model->bundle().name + " (" + model->bundle().checksum.substr(0, 12) + ")";
  }
  return s;
}

}  // namespace netguard::app
