#include "detect/rules/rules_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "detect/rules/builtin.h"

namespace netguard::detect::rules {
namespace {

// Reads one rule's YAML with errors that carry the file, line and rule name.
class Reader {
 public:
  Reader(const std::string& file, std::string rule) : file_(file), rule_(std::move(rule)) {}

  [[noreturn]] void Fail(const YAML::Node& node, const std::string& message) const {
    throw RulesError(file_, node.Mark().line + 1, rule_, message);
  }

  std::string String(const YAML::Node& v, const std::string& key) const {
    if (!v.IsScalar()) Fail(v, key + ": expected a string");
    return v.Scalar();
  }

  double Number(const YAML::Node& v, const std::string& key, double min, double max) const {
    const std::string text = v.IsScalar() ? v.Scalar() : "";
    double out = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      Fail(v, key + ": expected a number, got '" + text + "'");
    }
    if (out < min || out > max) {
      Fail(v, key + ": must be between " + Text(min) + " and " + Text(max));
    }
    return out;
  }

  bool Bool(const YAML::Node& v, const std::string& key) const {
    bool out = false;
    if (!v.IsScalar() || !YAML::convert<bool>::decode(v, out)) {
      Fail(v, key + ": expected true or false");
    }
    return out;
  }

  std::chrono::seconds Duration(const YAML::Node& v, const std::string& key) const {
    const std::string text = v.IsScalar() ? v.Scalar() : "";
    uint64_t number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    const std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
    static const std::map<std::string_view, uint64_t, std::less<>> kUnits = {
        {"s", 1}, {"", 1}, {"m", 60}, {"h", 3600}};
    const auto it = kUnits.find(unit);
    if (text.empty() || ec != std::errc() || it == kUnits.end() || number == 0 ||
        number * it->second > 86400) {
      Fail(v,
           key + ": expected a duration from 1s to 24h such as 10s, 5m or 1h, got '" + text + "'");
    }
    return std::chrono::seconds(number * it->second);
  }

  std::vector<uint16_t> Ports(const YAML::Node& v, const std::string& key) const {
    std::vector<uint16_t> out;
    if (v.IsScalar()) {
      out.push_back(static_cast<uint16_t>(Number(v, key, 0, 65535)));
      return out;
    }
    if (!v.IsSequence()) Fail(v, key + ": expected a port or a list of ports");
    for (const auto& p : v) out.push_back(static_cast<uint16_t>(Number(p, key, 0, 65535)));
    return out;
  }

  Severity SeverityOf(const YAML::Node& v) const {
    auto s = ParseSeverity(String(v, "severity"));
    if (!s) Fail(v, "severity: expected info, warning, high or critical");
    return *s;
  }

  uint8_t Flags(const YAML::Node& v, const std::string& key) const {
    static const std::map<std::string, uint8_t> kFlags = {
        {"FIN", NG_TCP_FIN}, {"SYN", NG_TCP_SYN}, {"RST", NG_TCP_RST}, {"PSH", NG_TCP_PSH},
        {"ACK", NG_TCP_ACK}, {"URG", NG_TCP_URG}, {"ECE", NG_TCP_ECE}, {"CWR", NG_TCP_CWR}};
    uint8_t out = 0;
    std::vector<YAML::Node> items;
    if (v.IsSequence()) {
      for (const auto& f : v) items.push_back(f);
    } else {
      items.push_back(v);
    }
    for (const auto& f : items) {
      std::string name = String(f, key);
      std::transform(name.begin(), name.end(), name.begin(), ::toupper);
      auto it = kFlags.find(name);
      if (it == kFlags.end()) Fail(f, key + ": unknown TCP flag '" + name + "'");
      out |= it->second;
    }
    return out;
  }

  Condition Match(const YAML::Node& node) const;

 private:
  static std::string Text(double x) {
    std::ostringstream s;
    s << x;
    return s.str();
  }
  const std::string& file_;
  std::string rule_;
};

Condition Leaf(Condition::Op op) {
  Condition c;
  c.op = op;
  return c;
}

// A mapping: every entry must hold.
Condition Reader::Match(const YAML::Node& node) const {
  if (!node.IsMap()) Fail(node, "match: expected a mapping of conditions");
  Condition all = Leaf(Condition::Op::kAll);
  static const std::map<std::string, Condition::Field> kFields = {
      {"size", Condition::Field::kSize},
      {"payload", Condition::Field::kPayload},
      {"packets", Condition::Field::kPackets},
      {"bytes", Condition::Field::kBytes},
      {"duration_ms", Condition::Field::kDurationMs}};
  static const std::map<std::string, Condition::Cmp> kCmps = {
      {"lt", Condition::Cmp::kLt}, {"le", Condition::Cmp::kLe}, {"gt", Condition::Cmp::kGt},
      {"ge", Condition::Cmp::kGe}, {"eq", Condition::Cmp::kEq}, {"ne", Condition::Cmp::kNe}};
  for (const auto& item : node) {
    const std::string key = item.first.as<std::string>();
    const YAML::Node& v = item.second;
    Condition c;
    if (key == "proto") {
      static const std::map<std::string, double> kProtos = {
          {"tcp", 6}, {"udp", 17}, {"icmp", 1}, {"icmpv6", 58}};
      c = Leaf(Condition::Op::kProto);
      auto it = kProtos.find(v.IsScalar() ? v.Scalar() : "");
      c.value = it != kProtos.end() ? it->second : Number(v, "match.proto", 0, 255);
    } else if (key == "src_port" || key == "dst_port") {
      c = Leaf(key == "src_port" ? Condition::Op::kSrcPort : Condition::Op::kDstPort);
      c.ports = Ports(v, "match." + key);
    } else if (key == "flags" || key == "flags_unset") {
      c = Leaf(key == "flags" ? Condition::Op::kFlagsSet : Condition::Op::kFlagsUnset);
      c.flags = Flags(v, "match." + key);
    } else if (kFields.count(key)) {
      if (!v.IsMap() || v.size() == 0)
        Fail(v, "match." + key + ": expected {gt|ge|lt|le|eq|ne: N}");
      Condition both = Leaf(Condition::Op::kAll);
      for (const auto& cmp : v) {
        const std::string op = cmp.first.as<std::string>();
        if (!kCmps.count(op)) Fail(cmp.first, "match." + key + ": unknown comparison '" + op + "'");
        Condition x = Leaf(Condition::Op::kCompare);
        x.field = kFields.at(key);
        x.cmp = kCmps.at(op);
        x.value = Number(cmp.second, "match." + key + "." + op, -1e18, 1e18);
        both.children.push_back(x);
      }
      c = std::move(both);
    } else if (key == "not") {
      c = Leaf(Condition::Op::kNot);
      c.children.push_back(Match(v));
    } else if (key == "any" || key == "all") {
      if (!v.IsSequence() || v.size() == 0) Fail(v, "match." + key + ": expected a list");
      c = Leaf(key == "any" ? Condition::Op::kAny : Condition::Op::kAll);
      for (const auto& x : v) c.children.push_back(Match(x));
    } else {
      Fail(item.first, "match: unknown condition '" + key + "'");
    }
    all.children.push_back(std::move(c));
  }
  YAML::Emitter out;
  out << YAML::Flow << node;
  all.text = out.c_str();
  return all;
}

// The keys every rule takes.
bool ApplyCommon(const Reader& r, const std::string& key, const YAML::Node& v, RuleSpec& rule) {
  if (key == "enabled") {
    rule.enabled = r.Bool(v, key);
  } else if (key == "threshold") {
    rule.threshold = static_cast<uint32_t>(r.Number(v, key, 1, 1e9));
  } else if (key == "window") {
    rule.window = r.Duration(v, key);
  } else if (key == "severity") {
    rule.severity = r.SeverityOf(v);
  } else if (key == "high_factor") {
    rule.high_factor = r.Number(v, key, 1, 1e6);
  } else if (key == "critical_factor") {
    rule.critical_factor = r.Number(v, key, 1, 1e6);
  } else if (key == "ports") {
    rule.ports = r.Ports(v, key);
  } else if (key == "description") {
    rule.description = r.String(v, key);
  } else {
    return false;
  }
  return true;
}

void CheckFactors(const Reader& r, const YAML::Node& node, const RuleSpec& rule) {
  if (rule.critical_factor < rule.high_factor) {
    r.Fail(node, "critical_factor must not be below high_factor");
  }
}

// A built-in rule's setting: most are amounts (0..1e15); the baselines' are narrower.
double Setting(const Reader& r, const YAML::Node& v, const std::string& key) {
  struct Range {
    double min, max;
    bool whole;
  };
  static const std::map<std::string, Range, std::less<>> kRanges = {
      {"alpha", {1e-6, 1, false}},        {"sigma", {0, 1000, false}},
      {"min_ratio", {1, 1e6, false}},     {"dominant_share", {0, 1, false}},
      {"warmup_windows", {0, 1e6, true}}, {"learn_after_windows", {0, 1e6, true}},
      {"warmup_buckets", {0, 1e6, true}}, {"learn_after_buckets", {0, 1e6, true}}};
  const auto it = kRanges.find(key);
  const Range range = it == kRanges.end() ? Range{0, 1e15, false} : it->second;
  const double x = r.Number(v, key, range.min, range.max);
  if (range.whole && x != std::floor(x)) r.Fail(v, key + ": expected a whole number");
  return x;
}

void ApplyBuiltin(const std::string& file, const YAML::Node& node, RuleSpec& rule) {
  Reader r(file, rule.name);
  if (!node.IsMap()) r.Fail(node, "expected a mapping of settings");
  rule.line = node.Mark().line + 1;
  for (const auto& item : node) {
    const std::string key = item.first.as<std::string>();
    if (ApplyCommon(r, key, item.second, rule)) continue;
    if (!rule.params.count(key)) r.Fail(item.first, "unknown setting '" + key + "'");
    rule.params[key] = Setting(r, item.second, key);
  }
  CheckFactors(r, node, rule);
}

template <typename T>
T Choice(const Reader& r, const YAML::Node& v, const std::string& key,
         const std::map<std::string, T>& choices) {
  const std::string text = r.String(v, key);
  auto it = choices.find(text);
  if (it != choices.end()) return it->second;
  std::string names;
  for (const auto& [name, value] : choices) names += (names.empty() ? "" : ", ") + name;
  r.Fail(v, key + ": expected one of " + names + ", got '" + text + "'");
}

RuleSpec ParseCustom(const std::string& file, const YAML::Node& node) {
  const std::string name =
      node.IsMap() && node["name"] && node["name"].IsScalar() ? node["name"].Scalar() : "";
  Reader r(file, name);
  if (name.empty()) r.Fail(node, "a custom rule needs a name");
  RuleSpec rule;
  rule.name = name;
  rule.kind = "custom";
  rule.alert_class = "Custom";
  rule.line = node.Mark().line + 1;
  bool has_match = false, has_threshold = false;
  for (const auto& item : node) {
    const std::string key = item.first.as<std::string>();
    const YAML::Node& v = item.second;
    if (key == "name") continue;
    if (ApplyCommon(r, key, v, rule)) {
      has_threshold |= key == "threshold";
    } else if (key == "on") {
      rule.trigger = Choice<Trigger>(r, v, key,
                                     {{"flow_start", Trigger::kFlowStart},
                                      {"flow_end", Trigger::kFlowEnd},
                                      {"packet", Trigger::kPacket}});
    } else if (key == "key") {
      rule.key = Choice<KeyBy>(r, v, key,
                               {{"source", KeyBy::kSource},
                                {"destination", KeyBy::kDestination},
                                {"source_port", KeyBy::kSourcePort},
                                {"source_destination", KeyBy::kSourceDestination}});
    } else if (key == "count") {
      rule.measure = Choice<Measure>(r, v, key,
                                     {{"events", Measure::kEvents},
                                      {"packets", Measure::kPackets},
                                      {"bytes", Measure::kBytes},
                                      {"distinct_targets", Measure::kDistinctTargets},
                                      {"distinct_hosts", Measure::kDistinctHosts},
                                      {"distinct_ports", Measure::kDistinctPorts},
                                      {"distinct_sources", Measure::kDistinctSources}});
    } else if (key == "class") {
      rule.alert_class = r.String(v, key);
    } else if (key == "technique") {
      rule.technique = r.String(v, key);
    } else if (key == "match") {
      rule.match = r.Match(v);
      has_match = true;
    } else {
      r.Fail(item.first, "unknown setting '" + key + "'");
    }
  }
  if (!has_match) r.Fail(node, "a custom rule needs a match");
  if (!has_threshold) r.Fail(node, "a custom rule needs a threshold");
  CheckFactors(r, node, rule);
  return rule;
}

}  // namespace

RuleSet DefaultRuleSet() { return {DefaultRules(), ""}; }

RuleSet LoadRulesText(const std::string& yaml, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw RulesError(name, e.mark.line + 1, "", "YAML syntax: " + e.msg);
  }
  RuleSet set = DefaultRuleSet();
  set.source = name;
  if (root.IsNull()) return set;
  const Reader top(name, "");
  if (!root.IsMap()) top.Fail(root, "expected a mapping with 'rules' and 'custom'");
  for (const auto& item : root) {
    const std::string key = item.first.as<std::string>();
    if (key == "rules") {
      if (item.second.IsNull()) continue;
      if (!item.second.IsMap()) top.Fail(item.second, "rules: expected a mapping by rule name");
      for (const auto& entry : item.second) {
        const std::string rule = entry.first.as<std::string>();
        auto it = std::find_if(set.rules.begin(), set.rules.end(),
                               [&](const RuleSpec& r) { return r.name == rule; });
        if (it == set.rules.end()) {
          Reader(name, rule)
              .Fail(entry.first,
                    "no built-in rule of this name (custom rules go "
                    "under 'custom')");
        }
        ApplyBuiltin(name, entry.second, *it);
      }
    } else if (key == "custom") {
      if (item.second.IsNull()) continue;
      if (!item.second.IsSequence()) top.Fail(item.second, "custom: expected a list of rules");
      for (const auto& entry : item.second) {
        RuleSpec rule = ParseCustom(name, entry);
        const bool taken = std::any_of(set.rules.begin(), set.rules.end(),
                                       [&](const RuleSpec& r) { return r.name == rule.name; });
        if (taken) Reader(name, rule.name).Fail(entry["name"], "the name is already used");
        set.rules.push_back(std::move(rule));
      }
    } else {
      top.Fail(item.first, "unknown key '" + key + "' (expected rules or custom)");
    }
  }
  return set;
}

RuleSet LoadRulesFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw RulesError(path, 0, "", "cannot read the file");
  std::stringstream text;
  text << in.rdbuf();
  return LoadRulesText(text.str(), path);
}

}  // namespace netguard::detect::rules
