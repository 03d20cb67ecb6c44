#include "detect/rules/engine.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "detect/rules/baseline.h"

namespace netguard::detect::rules {
namespace {

constexpr uint64_t kHashedAddress = 1ull << 63;  // a distinct value that is not an IPv4 word

// An address as a distinct value: the IPv4 word itself (so evidence can print it), or a hash.
uint64_t AddressValue(const uint32_t* a, uint8_t family) {
  if (family == NG_FAMILY_IPV4) return a[0];
  return kHashedAddress | (RuleKeyHash{}(RuleKey{.a = {a[0], a[1], a[2], a[3]}}) >> 1);
}

uint64_t StringHash(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

uint64_t MacValue(const std::array<uint8_t, 6>& mac) {
  uint64_t v = 0;
  for (uint8_t b : mac) v = v << 8 | b;
  return v;
}

std::string MacText(uint64_t v) {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 5; i >= 0; --i) {
    const auto b = static_cast<uint8_t>(v >> (8 * i));
    s += kHex[b >> 4];
    s += kHex[b & 15];
    if (i > 0) s += ':';
  }
  return s;
}

std::string ValueText(uint64_t v) {
  if (v & kHashedAddress) return "(ipv6)";
  const auto word = static_cast<uint32_t>(v);
  const uint32_t words[4] = {word, 0, 0, 0};
  return AddressText(words, NG_FAMILY_IPV4);
}

bool IsDistinct(Measure m) {
  return m != Measure::kEvents && m != Measure::kPackets && m != Measure::kBytes &&
         m != Measure::kHistory;
}

const char* MeasureName(Measure m) {
  switch (m) {
    case Measure::kEvents:
      return "events";
    case Measure::kPackets:
      return "packets";
    case Measure::kBytes:
      return "bytes";
    case Measure::kDistinctTargets:
      return "distinct_targets";
    case Measure::kDistinctHosts:
      return "distinct_hosts";
    case Measure::kDistinctPorts:
      return "distinct_ports";
    case Measure::kDistinctSources:
      return "distinct_sources";
    case Measure::kDistinctConnections:
      return "distinct_connections";
    case Measure::kDistinctSubdomains:
      return "distinct_subdomains";
    case Measure::kDistinctDomains:
      return "distinct_domains";
    case Measure::kHistory:
      return "connections";
  }
  return "value";
}

// A flow as an event; `now_ns` is the sweep's time for an open flow (kFlowOpen), whose duration
// runs until then.
Event FlowEvent(Trigger trigger, const FlowRecord& flow, int64_t now_ns = 0) {
  Event e;
  e.trigger = trigger;
  e.flow = &flow;
  const ng_flow_key& k = flow.key;
  const bool a_initiated = flow.acc.initiator == NG_SIDE_A;
  e.time_ns = trigger == Trigger::kFlowStart  ? flow.start_ns
              : trigger == Trigger::kFlowOpen ? now_ns
                                              : flow.end_ns;
  e.family = k.family;
  e.proto = k.proto;
  e.src = a_initiated ? k.addr_a : k.addr_b;
  e.dst = a_initiated ? k.addr_b : k.addr_a;
  e.src_port = a_initiated ? k.port_a : k.port_b;
  e.dst_port = a_initiated ? k.port_b : k.port_a;
  e.flags = flow.acc.first_tcp_flags;
  const ng_dir_stats& fwd = flow.acc.dir[NG_DIR_FWD];
  const ng_dir_stats& bwd = flow.acc.dir[NG_DIR_BWD];
  e.packets = static_cast<double>(fwd.payload.count + bwd.payload.count);
  e.bytes = static_cast<double>(fwd.wire_bytes + bwd.wire_bytes);
  e.payload = static_cast<uint64_t>(fwd.payload.sum + bwd.payload.sum);
  e.size = e.packets > 0 ? static_cast<uint32_t>(e.bytes / e.packets) : 0;
  e.duration_ms = static_cast<double>(std::max(e.time_ns, flow.end_ns) - flow.start_ns) / 1e6;
  return e;
}

}  // namespace

// A rule in force: its spec, predicate and windows.
struct RulesEngine::Active {
  RuleSpec spec;
  Predicate predicate = nullptr;  // built-in; custom rules use spec.match
  uint32_t index = 0;             // identity in the admission filter
  WindowTable table;
  std::unique_ptr<WindowTable> macs;     // arp_spoof: the MAC each address was last seen with
  std::unique_ptr<Baselines> baselines;  // traffic_anomaly
  uint64_t alerts = 0;
  // min_bytes, dominant_share and the baseline's settings, read once per spec, not per event.
  bool bytes_bounded = false;
  double min_bytes = 0;
  double dominant_share = 0;
  std::optional<SurgeSettings> surge;  // volumetric_ddos: judged against a baseline
  Active(RuleSpec s, Predicate p, uint32_t i, const EngineOptions& o)
      : spec(std::move(s)),
        predicate(p),
        index(i),
        table(std::chrono::nanoseconds(spec.window).count(), o.max_keys_per_rule, MaxSeen(o)) {
    ReadSettings(o);
  }
  void ReadSettings(const EngineOptions& o) {
    bytes_bounded = spec.params.contains("min_bytes");
    min_bytes = Param(spec, "min_bytes", 0);
    dominant_share = Param(spec, "dominant_share", 0);
    surge.reset();
    if (spec.params.contains("warmup_windows")) {
      surge = SurgeSettings::Of(spec, static_cast<double>(MaxSeen(o)));
    }
  }
  size_t MaxSeen(const EngineOptions& o) const {
    if (spec.measure == Measure::kHistory) return std::max<uint32_t>(spec.threshold, 2) * 2;
    const double need = spec.threshold * spec.critical_factor + 1;
    return static_cast<size_t>(std::clamp(need, 64.0, static_cast<double>(o.max_distinct)));
  }
};

RulesEngine::RulesEngine(RuleSet rules, EngineOptions options)
    : options_(options), admission_(options.admission_slots_log2) {
  Replace(std::move(rules));
}

RulesEngine::~RulesEngine() = default;

std::unique_ptr<RulesEngine::Active> RulesEngine::Build(RuleSpec spec, uint32_t index) const {
  Predicate predicate = spec.kind == "custom" ? nullptr : BuiltinPredicate(spec.name);
  auto active = std::make_unique<Active>(std::move(spec), predicate, index, options_);
  if (active->spec.name == "arp_spoof") {
    active->macs =
        std::make_unique<WindowTable>(active->table.window_ns(), options_.max_keys_per_rule, 1);
  }
  if (active->spec.name == "traffic_anomaly") active->baselines = std::make_unique<Baselines>();
  return active;
}

std::vector<std::string> RulesEngine::Replace(RuleSet rules) {
  std::lock_guard lock(mu_);
  std::vector<std::string> kept_overrides;
  std::map<std::string, Override> overrides;
  for (RuleSpec& spec : rules.rules) {
    auto o = overrides_.find(spec.name);
    if (o == overrides_.end() || o->second.file_enabled != spec.enabled) continue;
    spec.enabled = o->second.enabled;
    overrides.insert(*o);
    kept_overrides.push_back(spec.name + (spec.enabled ? " enabled" : " disabled"));
  }
  overrides_ = std::move(overrides);
  std::vector<std::unique_ptr<Active>> next;
  for (RuleSpec& spec : rules.rules) {
    auto old = std::find_if(rules_.begin(), rules_.end(), [&](const auto& a) {
      return a && a->spec.name == spec.name && a->spec.key == spec.key &&
             a->spec.measure == spec.measure && a->spec.trigger == spec.trigger;
    });
    if (old == rules_.end()) {
      next.push_back(Build(std::move(spec), next_index_++));
      continue;
    }
    std::unique_ptr<Active> kept = std::move(*old);
    kept->spec = std::move(spec);
    kept->predicate = kept->spec.kind == "custom" ? nullptr : BuiltinPredicate(kept->spec.name);
    kept->ReadSettings(options_);
    kept->table.Reconfigure(std::chrono::nanoseconds(kept->spec.window).count(),
                            options_.max_keys_per_rule, kept->MaxSeen(options_));
    next.push_back(std::move(kept));
  }
  rules_ = std::move(next);
  for (auto& list : by_trigger_) list.clear();
  for (auto& r : rules_) {
    by_trigger_[static_cast<size_t>(r->spec.trigger)].push_back(r.get());
    // kFlowOpen rules see open flows at sweeps and finished flows.
    if (r->spec.trigger == Trigger::kFlowOpen) {
      by_trigger_[static_cast<size_t>(Trigger::kFlowEnd)].push_back(r.get());
    }
  }
  source_ = std::move(rules.source);
  return kept_overrides;
}

std::optional<RuleStatus> RulesEngine::SetEnabled(const std::string& name, bool enabled) {
  std::lock_guard lock(mu_);
  for (auto& r : rules_) {
    if (r->spec.name != name) continue;
    // The file's value: the one an override in force replaced, else the rule's own.
    auto o = overrides_.try_emplace(name, Override{enabled, r->spec.enabled}).first;
    o->second.enabled = enabled;
    if (o->second.file_enabled == enabled) overrides_.erase(o);
    r->spec.enabled = enabled;
    return RuleStatus{r->spec, r->alerts, r->table.size(), r->table.evictions()};
  }
  return std::nullopt;
}

std::vector<RuleStatus> RulesEngine::Rules() const {
  std::lock_guard lock(mu_);
  std::vector<RuleStatus> out;
  for (const auto& r : rules_) {
    out.push_back({r->spec, r->alerts, r->table.size(), r->table.evictions()});
  }
  return out;
}

std::string RulesEngine::source() const {
  std::lock_guard lock(mu_);
  return source_;
}

size_t RulesEngine::tracked_keys() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& r : rules_) n += r->table.size() + (r->macs ? r->macs->size() : 0);
  return n;
}

uint64_t RulesEngine::evictions() const {
  std::lock_guard lock(mu_);
  uint64_t n = 0;
  for (const auto& r : rules_) n += r->table.evictions() + (r->macs ? r->macs->evictions() : 0);
  return n;
}

void RulesEngine::OnFlowStart(const FlowRecord& flow, AlertSink& sink) {
  Dispatch(Trigger::kFlowStart, FlowEvent(Trigger::kFlowStart, flow), sink);
}

void RulesEngine::OnFlowEnd(const FlowRecord& flow, AlertSink& sink) {
  Dispatch(Trigger::kFlowEnd, FlowEvent(Trigger::kFlowEnd, flow), sink);
}

void RulesEngine::OnFlowOpen(const FlowRecord& flow, int64_t now_ns, AlertSink& sink) {
  Dispatch(Trigger::kFlowOpen, FlowEvent(Trigger::kFlowOpen, flow, now_ns), sink);
}

void RulesEngine::OnPacketSample(const PacketSample& s, AlertSink& sink) {
  Event e;
  e.trigger = Trigger::kPacket;
  e.sample = &s;
  e.time_ns = s.time_ns;
  e.size = s.wire_len;
  e.payload = s.payload_len;
  e.flags = s.tcp_flags;
  // A 1-in-K sample stands for the K packets since the previous one.
  e.packets = s.reason == NG_SAMPLE_ONE_IN_K ? std::max<uint32_t>(1, options_.sample_every_k) : 1;
  e.bytes = e.packets * s.wire_len;
  uint32_t arp_sender[4] = {};
  if (s.is_arp) {
    arp_sender[0] = s.arp.sender_ip;
    e.family = NG_FAMILY_IPV4;
    e.src = arp_sender;
    e.dst = arp_sender;
  } else {
    e.family = s.key.family;
    e.proto = s.key.proto;
    e.src = SampleSender(s);
    e.dst = SampleReceiver(s);
    e.src_port = s.side == NG_SIDE_A ? s.key.port_a : s.key.port_b;
    e.dst_port = s.side == NG_SIDE_A ? s.key.port_b : s.key.port_a;
  }
  std::optional<DnsQuestion> dns;
  if (s.reason == NG_SAMPLE_DNS_QUERY && !s.dns.empty()) {
    dns = ParseDnsQuery(s.dns);
    if (dns) e.dns = &*dns;
  }
  Dispatch(Trigger::kPacket, e, sink);
}

void RulesEngine::OnTick(int64_t now_ns) {
  std::lock_guard lock(mu_);
  for (auto& r : rules_) {
    r->table.Expire(now_ns);
    if (r->macs) r->macs->Expire(now_ns);
  }
}

void RulesEngine::Dispatch(Trigger trigger, const Event& event, AlertSink& sink) {
  std::lock_guard lock(mu_);
  for (Active* r : by_trigger_[static_cast<size_t>(trigger)]) {
    if (!r->spec.enabled) continue;
    const bool match = r->predicate ? r->predicate(event, r->spec) : Matches(r->spec.match, event);
    if (match) Apply(*r, event, sink);
  }
}

namespace {

RuleKey MakeKey(KeyBy by, const Event& e) {
  RuleKey k;
  k.family = e.family;
  auto copy = [](std::array<uint32_t, 4>& out, const uint32_t* in) {
    if (in) std::copy_n(in, 4, out.begin());
  };
  switch (by) {
    case KeyBy::kSource:
      copy(k.a, e.src);
      break;
    case KeyBy::kDestination:
      copy(k.b, e.dst);
      break;
    case KeyBy::kSourcePort:
      copy(k.a, e.src);
      k.port = e.dst_port;
      break;
    case KeyBy::kSourceDestination:
      copy(k.a, e.src);
      copy(k.b, e.dst);
      k.port = e.dst_port;
      break;
    case KeyBy::kSourceDomain:
      copy(k.a, e.src);
      k.extra = e.dns ? StringHash(e.dns->parent) : 0;
      break;
    case KeyBy::kArpAddress:
      k.a[0] = e.sample ? e.sample->arp.sender_ip : 0;
      break;
    case KeyBy::kArpMac:
      k.extra = e.sample ? MacValue(e.sample->arp.sender_mac) : 0;
      break;
  }
  return k;
}

uint64_t DistinctValue(Measure m, const Event& e) {
  switch (m) {
    case Measure::kDistinctTargets:
      return (AddressValue(e.dst, e.family) << 16) ^ e.dst_port;
    case Measure::kDistinctHosts:
      return AddressValue(e.dst, e.family);
    case Measure::kDistinctPorts:
      return e.dst_port;
    case Measure::kDistinctSources:
      return AddressValue(e.src, e.family);
    case Measure::kDistinctConnections:
      return (AddressValue(e.src, e.family) << 16) ^ e.src_port;
    case Measure::kDistinctSubdomains:
      return e.dns ? StringHash(e.dns->subdomain) : 0;
    case Measure::kDistinctDomains:
      return e.dns ? StringHash(e.dns->parent) : 0;
    default:
      return 0;
  }
}

double Weight(const RuleSpec& rule, bool bytes_bounded, const Event& e) {
  switch (rule.measure) {
    case Measure::kPackets:
      return e.packets;
    case Measure::kBytes:
      return e.bytes;
    case Measure::kEvents:
      return e.trigger == Trigger::kPacket ? e.packets : 1;
    default:  // distinct measures: the buckets hold bytes when the rule bounds them
      return bytes_bounded ? e.bytes : 1;
  }
}

// Mean and coefficient of variation of the gaps between the times kept in `w`.
std::pair<double, double> Periodicity(const Window& w) {
  std::vector<int64_t> times;
  for (const auto& s : w.seen) times.push_back(s.last_ns);
  std::sort(times.begin(), times.end());
  if (times.size() < 3) return {0, 1e9};
  double sum = 0, sum_sq = 0;
  const double n = static_cast<double>(times.size() - 1);
  for (size_t i = 1; i < times.size(); ++i) {
    const double gap = static_cast<double>(times[i] - times[i - 1]) / 1e9;
    sum += gap;
    sum_sq += gap * gap;
  }
  const double mean = sum / n;
  const double var = std::max(0.0, sum_sq / n - mean * mean);
  return {mean, mean > 0 ? std::sqrt(var) / mean : 1e9};
}

}  // namespace

bool RulesEngine::ArpChanged(Active& rule, const Event& e) {
  const RuleKey key = MakeKey(KeyBy::kArpAddress, e);
  const uint64_t mac = MacValue(e.sample->arp.sender_mac);
  Window& w = rule.macs->Add(key, e.time_ns, 0, false, 0);
  const bool changed = !w.seen.empty() && w.seen.front().value != mac &&
                       w.seen.front().last_ns > e.time_ns - rule.macs->window_ns();
  w.alert_value = w.seen.empty() ? 0 : static_cast<double>(w.seen.front().value);  // old MAC
  w.seen.assign(1, {mac, e.time_ns});
  return changed;
}

void RulesEngine::ApplyBaseline(Active& rule, const Event& e, AlertSink& sink) {
  const std::optional<Anomaly> a =
      rule.baselines->Add(rule.spec, e.proto, e.time_ns, e.packets, e.bytes);
  if (!a) return;
  const double ratio = a->packets / std::max(1.0, a->mean_packets);
  netguard::Alert alert;
  alert.time_ns = e.time_ns;
  alert.protocol = a->proto;
  alert.alert_class = rule.spec.alert_class;
  alert.score = ratio;
  alert.severity = ratio >= rule.spec.critical_factor ? Severity::kCritical
                   : ratio >= rule.spec.high_factor   ? Severity::kHigh
                                                      : rule.spec.severity;
  alert.mitre_technique = rule.spec.technique;
  alert.detector = "rule." + rule.spec.name;
  alert.evidence_json = nlohmann::json{
      {"rule", rule.spec.name},
      {"protocol", ProtocolName(a->proto)},
      {"bucket_s", rule.spec.window.count()},
      {"bucket_start_ns", a->bucket_start_ns},
      {"packets", a->packets},
      {"bytes", a->bytes},
      {"baseline_packets", a->mean_packets},
      {"baseline_packets_std", a->std_packets},
      {"baseline_bytes", a->mean_bytes},
      {"baseline_bytes_std",
       a->std_bytes}}.dump();
  ++rule.alerts;
  sink.Emit(std::move(alert));
}

void RulesEngine::Apply(Active& rule, const Event& e, AlertSink& sink) {
  if (rule.baselines) {
    if (e.sample && !e.sample->is_arp) ApplyBaseline(rule, e, sink);
    return;
  }
  if (rule.macs && !ArpChanged(rule, e)) return;
  const RuleKey key = MakeKey(rule.spec.key, e);
  const Measure m = rule.spec.measure;
  const double weight = Weight(rule.spec, rule.bytes_bounded, e);
  const uint64_t value = DistinctValue(m, e);
  const bool distinct = IsDistinct(m);
  const int64_t window_ns = rule.table.window_ns();
  Window* found = rule.table.Find(key);
  if (!found && rule.spec.threshold > 1) {
    AdmissionFilter::Pending first;
    if (!admission_.Admit(rule.index, key, e.time_ns, window_ns, weight, value, first)) return;
    found = m == Measure::kHistory
                ? &rule.table.AddHistory(key, first.time_ns)
                : &rule.table.Add(key, first.time_ns, first.weight, distinct, first.value);
  }
  // One lookup per event: the window found (or just admitted) takes the event directly.
  Window& w = m == Measure::kHistory
                  ? (found ? rule.table.AddHistory(*found, e.time_ns)
                           : rule.table.AddHistory(key, e.time_ns))
                  : (found ? rule.table.Add(*found, e.time_ns, weight, distinct, value)
                           : rule.table.Add(key, e.time_ns, weight, distinct, value));
  double measure = distinct                 ? static_cast<double>(w.distinct.size())
                   : m == Measure::kHistory ? static_cast<double>(w.seen.size())
                                            : w.Total();
  if (rule.dominant_share > 0 && e.src) w.VoteSource(AddressValue(e.src, e.family), weight);
  if (rule.surge) {
    if (!w.baseline) w.baseline = std::make_unique<SourceBaseline>();
    w.baseline->Observe(*rule.surge, e.time_ns, window_ns, measure, w.Total());
  }
  if (measure < rule.spec.threshold) return;
  if (rule.min_bytes > 0 && w.Total() < rule.min_bytes) return;
  if (rule.surge && !w.baseline->Surge(*rule.surge, measure, w.Total())) return;
  if (m == Measure::kHistory) {
    const auto [mean, jitter] = Periodicity(w);
    if (jitter > Param(rule.spec, "max_jitter", 0.15) ||
        mean < Param(rule.spec, "min_interval_s", 1)) {
      return;
    }
  }
  MaybeAlert(rule, key, w, measure, e, sink);
}

void RulesEngine::MaybeAlert(Active& rule, const RuleKey& key, Window& w, double value,
                             const Event& e, AlertSink& sink) {
  const RuleSpec& spec = rule.spec;
  Severity severity = spec.severity;
  if (value >= spec.threshold * spec.critical_factor) {
    severity = Severity::kCritical;
  } else if (value >= spec.threshold * spec.high_factor) {
    severity = std::max(severity, Severity::kHigh);
  }
  const int64_t now = e.time_ns;
  const bool new_period = w.alert_start_ns == 0 || now - w.alert_start_ns >= rule.table.window_ns();
  if (!new_period) return;  // aggregated: one alert per key per window
  w.alert_start_ns = now;

  nlohmann::json evidence = {
      {"rule", spec.name},
      {"threshold", spec.threshold},
      {"window_s", spec.window.count()},
      {MeasureName(spec.measure), value},
      {"events", w.Total()},
      {"first_event_ns", w.first_ns},
  };
  if (IsDistinct(spec.measure) && !w.distinct.empty()) {
    nlohmann::json sample = nlohmann::json::array();
    for (const auto& [v, last_ns] : w.distinct) {
      if (sample.size() >= 32) break;
      if (spec.measure == Measure::kDistinctTargets) {
        sample.push_back(static_cast<uint16_t>(v));  // the port (low bits; XOR of a v4 word)
      } else if (spec.measure == Measure::kDistinctHosts ||
                 spec.measure == Measure::kDistinctSources) {
        sample.push_back(ValueText(v));
      }
    }
    if (!sample.empty()) {
      evidence[spec.measure == Measure::kDistinctTargets ? "ports_sample" : "hosts_sample"] =
          sample;
    }
  }
  if (e.dns) {
    evidence["domain"] = e.dns->parent;
    evidence["query"] = e.dns->name;
    evidence["qtype"] = e.dns->qtype;
    evidence["longest_label"] = e.dns->longest_label;
    evidence["entropy"] = ShannonEntropy(e.dns->subdomain);
  }
  if (rule.macs) {
    const Window* macs = rule.macs->Find(MakeKey(KeyBy::kArpAddress, e));
    evidence["old_mac"] = MacText(static_cast<uint64_t>(macs ? macs->alert_value : 0));
    evidence["new_mac"] = MacText(MacValue(e.sample->arp.sender_mac));
  } else if (e.sample && e.sample->is_arp) {
    evidence["mac"] = MacText(MacValue(e.sample->arp.sender_mac));
  }
  // A victim-keyed alert names the sender of its last event: one of many, maybe spoofed
  // ("sampled"), unless that sender dominates the window ("dominant": a single-source flood).
  const bool by_destination = spec.key == KeyBy::kDestination;
  const bool dominant = by_destination && rule.dominant_share > 0 && e.src &&
                        w.Dominates(AddressValue(e.src, e.family), rule.dominant_share);
  if (by_destination) evidence["source"] = dominant ? "dominant" : "sampled";
  if (dominant) evidence["source_share_min"] = std::min(1.0, w.top_lead / w.Total());
  if (spec.measure == Measure::kHistory) {
    const auto [mean, jitter] = Periodicity(w);
    evidence["mean_interval_s"] = mean;
    evidence["jitter"] = jitter;
  }
  if (rule.surge && w.baseline) {
    const SourceBaseline& b = *w.baseline;
    const SurgeBasis basis = b.Basis(*rule.surge);
    evidence["baseline"] = basis == SurgeBasis::kWarmup    ? "warmup"
                           : basis == SurgeBasis::kSources ? "sources"
                                                           : "bytes";
    evidence["baseline_windows"] = b.windows;
    evidence["baseline_sources"] = b.mean_sources;
    evidence["baseline_sources_std"] = std::sqrt(b.var_sources);
    evidence["baseline_bytes"] = b.mean_bytes;
    evidence["baseline_bytes_std"] = std::sqrt(b.var_bytes);
  }

  netguard::Alert alert;
  alert.time_ns = now;
  alert.source_sampled = by_destination && !dominant;
  if (e.src) alert.src_addr = AddressText(e.src, e.family);
  if (e.dst && !(e.sample && e.sample->is_arp)) alert.dst_addr = AddressText(e.dst, e.family);
  if (!by_destination && spec.key != KeyBy::kSource) alert.dst_port = key.port;
  if (by_destination &&
      (!IsDistinct(spec.measure) || spec.measure == Measure::kDistinctConnections)) {
    alert.dst_port = e.dst_port;
  }
  alert.protocol = e.proto;
  alert.alert_class = spec.alert_class;
  alert.score = value / std::max<uint32_t>(1, spec.threshold);
  alert.severity = severity;
  alert.mitre_technique = spec.technique;
  alert.detector = "rule." + spec.name;
  alert.evidence_json = evidence.dump();
  ++rule.alerts;
  sink.Emit(std::move(alert));
}

}  // namespace netguard::detect::rules
