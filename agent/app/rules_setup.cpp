#include "app/rules_setup.h"

#include <filesystem>

#include "detect/rules/rules_file.h"

namespace netguard::app {

detect::rules::RuleSet RuleSetFrom(const config::Config& config) {
  const std::string& file = config.rules.file;
  const bool use_defaults =
      file.empty() || (file == config::kDefaultRulesFile && !std::filesystem::exists(file));
  detect::rules::RuleSet set =
      use_defaults ? detect::rules::DefaultRuleSet() : detect::rules::LoadRulesFile(file);
  if (!config.port_scan.given) return set;
  for (detect::rules::RuleSpec& rule : set.rules) {
    if (rule.name != "port_scan") continue;
    rule.enabled = config.port_scan.enabled;
    rule.threshold = config.port_scan.distinct_ports;
    rule.window = config.port_scan.window;
  }
  return set;
}

detect::rules::EngineOptions EngineOptionsFrom(const config::Config& config) {
  detect::rules::EngineOptions options;
  options.max_keys_per_rule = config.rules.max_keys_per_rule;
  options.sample_every_k = config.sampling.one_in;
  return options;
}

}  // namespace netguard::app
