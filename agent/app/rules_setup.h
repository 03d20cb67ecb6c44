// The rules engine's settings from netguardd.yaml: the rules file and the port_scan alias.
#ifndef NETGUARD_AGENT_APP_RULES_SETUP_H_
#define NETGUARD_AGENT_APP_RULES_SETUP_H_

#include "config/config.h"
#include "detect/rules/engine.h"
#include "detect/rules/rule_spec.h"

namespace netguard::app {

/// The rule set of `config`: rules.file (the built-in defaults when empty, or when it is the
/// default path and absent), then the
/// `port_scan:` section of netguard.yaml when present (an alias for the port_scan rule's
/// enabled, threshold and window). Throws detect::rules::RulesError.
detect::rules::RuleSet RuleSetFrom(const config::Config& config);

/// Engine bounds and the 1-in-K sampling weight of `config`.
detect::rules::EngineOptions EngineOptionsFrom(const config::Config& config);

}  // namespace netguard::app

#endif  // NETGUARD_AGENT_APP_RULES_SETUP_H_
