// The built-in rules: their defaults and the test each applies to an event before counting it.
#ifndef NETGUARD_AGENT_DETECT_RULES_BUILTIN_H_
#define NETGUARD_AGENT_DETECT_RULES_BUILTIN_H_

#include <string_view>
#include <vector>

#include "detect/rules/event.h"
#include "detect/rules/rule_spec.h"

namespace netguard::detect::rules {

/// Whether an event counts for a rule (before keying and windowing).
using Predicate = bool (*)(const Event& event, const RuleSpec& rule);

/// Every built-in rule with its default settings, in a stable order.
std::vector<RuleSpec> DefaultRules();

/// The predicate of built-in rule `name`, or nullptr for an unknown name (custom rules).
Predicate BuiltinPredicate(const std::string& name);

/// Parameter `key` of `rule`, or `fallback` when absent.
double Param(const RuleSpec& rule, std::string_view key, double fallback);

}  // namespace netguard::detect::rules

#endif  // NETGUARD_AGENT_DETECT_RULES_BUILTIN_H_
