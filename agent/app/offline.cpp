#include "app/offline.h"

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "capture/pcap/flow_table.h"
#include "capture/pcap/pcap_source.h"
#include "core/flow_record.h"
#include "detect/detector.h"
#include "detect/ml/ml_detector.h"
#include "detect/ml/model_slot.h"
#include "features/context.h"
#include "features/flow_csv.h"

namespace netguard::app {
namespace {

constexpr uint64_t kTickNs = 1000000000ULL;  // detector ticks, in capture time

std::ofstream OpenOutput(const std::string& path) {
  std::ofstream out(path, std::ios::out | std::ios::trunc);
  if (!out) throw std::runtime_error(path + ": cannot open for writing");
  return out;
}

std::string AlertJson(const Alert& alert) {
  nlohmann::json j = {
      {"time_ns", alert.time_ns},
      {"src_addr", alert.src_addr},
      {"src_port", alert.src_port},
      {"dst_addr", alert.dst_addr},
      {"dst_port", alert.dst_port},
      {"protocol", alert.protocol},
      {"class", alert.alert_class},
      {"score", alert.score},
      {"severity", ToString(alert.severity)},
      {"mitre_technique", alert.mitre_technique},
      {"detector", alert.detector},
  };
  nlohmann::json evidence = nlohmann::json::parse(alert.evidence_json, nullptr, false);
  j["evidence"] = evidence.is_discarded() ? nlohmann::json(alert.evidence_json) : evidence;
  return j.dump();
}

// The kernel's lifecycle of the feature mode; flow starts, open flows and samples for detectors.
capture::pcap::FlowTableOptions TableOptions(const OfflineOptions& options,
                                             const features::FlowLifecycle& lifecycle) {
  capture::pcap::FlowTableOptions table{.step = lifecycle.step,
                                        .idle_timeout = lifecycle.idle_timeout,
                                        .sample_every_k = options.engine.sample_every_k};
  table.detector_events = options.rules || !options.model.empty();
  return table;
}

// Flow events -> detectors, features, CSV rows; detector alerts -> JSON lines.
class Pipeline final : public capture::pcap::FlowEvents,
                       public capture::pcap::PacketSink,
                       public detect::AlertSink {
 public:
  Pipeline(const OfflineOptions& options, OfflineSummary& summary)
      : options_(options),
        summary_(summary),
        lifecycle_(features::LifecycleFor(options.mode)),
        table_(TableOptions(options, lifecycle_), *this) {
    if (options.rules) {
      detectors_.push_back(
          std::make_unique<detect::rules::RulesEngine>(options.rule_set, options.engine));
    }
    if (!options.model.empty()) {  // a refused bundle throws: --model was asked for explicitly
      auto slot = std::make_shared<detect::ml::ModelSlot>(options.mode, options.model);
      slot->Load();
      detectors_.push_back(std::make_unique<detect::ml::MlDetector>(
          slot, detect::ml::MlOptions{.anomalies = options.model_anomalies}));
    }
    if (!options.flows_csv.empty()) {
      flows_out_ = OpenOutput(options.flows_csv);
      csv_ = std::make_unique<features::FlowCsvWriter>(flows_out_);
      csv_->WriteHeader();
    }
    if (!options.alerts_json.empty()) alerts_out_ = OpenOutput(options.alerts_json);
  }

  capture::pcap::FlowTable& table() { return table_; }

  void OnPacket(std::span<const uint8_t> frame, uint32_t wire_len, uint64_t ts_ns) override {
    if (ts_ns >= next_tick_ns_) {
      if (next_tick_ns_ != 0) {
        for (auto& d : detectors_) d->OnTick(static_cast<int64_t>(ts_ns));
        FlushDetectors();  // batched verdicts, once per second of capture as per agent sweep
      }
      next_tick_ns_ = ts_ns + kTickNs;
    }
    table_.AddFrame(frame, wire_len, ts_ns);
  }

  void OnFlowStart(const FlowRecord& flow) override {
    for (auto& d : detectors_) d->OnFlowStart(flow, *this);
  }

  void OnFlowOpen(const FlowRecord& flow, uint64_t now_ns) override {
    for (auto& d : detectors_) d->OnFlowOpen(flow, static_cast<int64_t>(now_ns), *this);
  }

  void OnPacketSample(const PacketSample& sample) override {
    for (auto& d : detectors_) d->OnPacketSample(sample, *this);
  }

  void OnFlowEnd(const FlowRecord& flow) override {
    summary_.flows++;
    for (auto& d : detectors_) d->OnFlowEnd(flow, *this);
    if (!csv_) return;
    const bool written = ng_flow_packets(&flow.acc) >= lifecycle_.min_packets;
    if (written) features_ = features::ComputeFeatures(flow, options_.mode);
    // Every finished flow counts, as in the ML detector. A flow without a row only writes its
    // counts over the last row's: zeroing 0.7 KB for each flow of a flood cost a tenth of a run.
    context_.Observe(flow, features_);
    if (!written) return;
    csv_->WriteRow(flow, features_);
    summary_.flow_rows++;
  }

  void Emit(Alert alert) override {
    summary_.alerts++;
    if (alerts_out_.is_open()) alerts_out_ << AlertJson(alert) << '\n';
  }

  /// Lets batching detectors (ML) emit what they hold.
  void FlushDetectors() {
    for (auto& d : detectors_) d->Flush(*this);
  }

  /// Flushes the outputs; throws when a write failed.
  void Close() {
    for (auto* out : {&flows_out_, &alerts_out_}) {
      if (!out->is_open()) continue;
      out->flush();
      if (!*out) throw std::runtime_error("write error on an output file");
      out->close();
    }
  }

 private:
  const OfflineOptions& options_;
  OfflineSummary& summary_;
  features::FlowLifecycle lifecycle_;
  capture::pcap::FlowTable table_;
  std::vector<std::unique_ptr<detect::Detector>> detectors_;
  std::ofstream flows_out_;
  std::ofstream alerts_out_;
  std::unique_ptr<features::FlowCsvWriter> csv_;
  features::FlowContext context_;
  features::FeatureVector features_{};  // the features of the flow being written
  uint64_t next_tick_ns_ = 0;
};

}  // namespace

OfflineSummary RunOffline(const OfflineOptions& options) {
  OfflineSummary summary;
  capture::pcap::PcapFileReader reader(options.input);  // throws PcapError (runtime_error)
  Pipeline pipeline(options, summary);
  const capture::pcap::ReadResult read = reader.ReadAll(pipeline);
  summary.packets = read.packets;
  summary.ok = read.ok;
  summary.error = read.error;
  // whatever was read, complete or not, ends as flows
  pipeline.table().Flush(FlowEndReason::kShutdown);
  pipeline.FlushDetectors();
  pipeline.Close();
  return summary;
}

}  // namespace netguard::app
