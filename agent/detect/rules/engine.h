// RulesEngine: the behavioural rules (built-in and custom) over rolling windows per source,
// destination and (source, port), with bounded state; a Detector.
#ifndef NETGUARD_AGENT_DETECT_RULES_ENGINE_H_
#define NETGUARD_AGENT_DETECT_RULES_ENGINE_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "detect/detector.h"
#include "detect/rules/builtin.h"
#include "detect/rules/event.h"
#include "detect/rules/rule_spec.h"
#include "detect/rules/window_table.h"

namespace netguard::detect::rules {

struct EngineOptions {
  size_t max_keys_per_rule = 50000;  // windows per rule; the least recently active are evicted
  size_t max_distinct = 4096;        // distinct values kept per window
  uint32_t sample_every_k = NG_DEFAULT_SAMPLE_EVERY_K;  // a 1-in-K sample stands for K packets
  size_t admission_slots_log2 = 18;                     // the admission filter (16 bytes a slot)
};

/// A rule as ListRules shows it.
struct RuleStatus {
  RuleSpec spec;
  uint64_t alerts = 0;     // raised since start
  size_t keys = 0;         // windows tracked now
  uint64_t evictions = 0;  // windows evicted for capacity
};

/// Evaluates every enabled rule on each flow start, flow end, sampled packet and (kFlowOpen
/// rules) open flow at a sweep. One alert per
/// (rule, key) per window, its severity scaled by the measure at that moment (a sustained
/// attack raises the next window's alert at the higher level); the evidence carries the rule's
/// counters. Thread-safe: the pipeline feeds it while the API lists, toggles
/// and replaces rules.
class RulesEngine final : public Detector {
 public:
  explicit RulesEngine(RuleSet rules, EngineOptions options = {});
  ~RulesEngine() override;

  std::string_view name() const override { return "rules"; }
  void OnFlowStart(const FlowRecord& flow, AlertSink& sink) override;
  void OnFlowEnd(const FlowRecord& flow, AlertSink& sink) override;
  void OnFlowOpen(const FlowRecord& flow, int64_t now_ns, AlertSink& sink) override;
  void OnPacketSample(const PacketSample& sample, AlertSink& sink) override;
  void OnTick(int64_t now_ns) override;

  /// Puts a new rule set in force. Windows of rules kept under the same name (same key and
  /// measure) survive, so a reload loses no evidence. A SetEnabled override survives too, as
  /// long as the new set gives its rule the same `enabled` as the set it overrode (a file
  /// edited on that point wins, and drops the override). Returns the overrides kept, as
  /// "NAME enabled|disabled".
  std::vector<std::string> Replace(RuleSet rules);
  /// Enables or disables a rule until changed again, across reloads (see Replace) but not
  /// across restarts (it is held in memory); nullopt for an unknown name. Setting a rule back to
  /// its rules-file value drops the override.
  std::optional<RuleStatus> SetEnabled(const std::string& name, bool enabled);
  /// Every rule in file order with its counters.
  std::vector<RuleStatus> Rules() const;
  /// The rules file in force (empty: built-in defaults).
  std::string source() const;
  /// Windows across all rules, and evictions for capacity.
  size_t tracked_keys() const;
  uint64_t evictions() const;

 private:
  struct Active;

  void Dispatch(Trigger trigger, const Event& event, AlertSink& sink);
  void Apply(Active& rule, const Event& event, AlertSink& sink);
  bool ArpChanged(Active& rule, const Event& event);
  void ApplyBaseline(Active& rule, const Event& event, AlertSink& sink);
  void MaybeAlert(Active& rule, const RuleKey& key, Window& window, double value,
                  const Event& event, AlertSink& sink);
  std::unique_ptr<Active> Build(RuleSpec spec, uint32_t index) const;

  EngineOptions options_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Active>> rules_;
  // rules_ by trigger, in file order: an event meets only the rules that look at its kind.
  std::array<std::vector<Active*>, 4> by_trigger_;  // indexed by Trigger
  std::string source_;
  // SetEnabled overrides by rule name, with the rules-file value each one overrides.
  struct Override {
    bool enabled = false;
    bool file_enabled = false;
  };
  std::map<std::string, Override> overrides_;
  AdmissionFilter admission_;
  uint32_t next_index_ = 0;
};

}  // namespace netguard::detect::rules

#endif  // NETGUARD_AGENT_DETECT_RULES_ENGINE_H_
