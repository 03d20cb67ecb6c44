#include "core/alert.h"

#include <array>

namespace netguard {
namespace {

constexpr std::array<std::string_view, 4> kSeverities = {"info", "warning", "high", "critical"};
constexpr std::array<std::string_view, 3> kFeedback = {"none", "true_positive", "false_positive"};

}  // namespace

std::string_view ToString(Severity severity) { return kSeverities[static_cast<size_t>(severity)]; }

std::optional<Severity> ParseSeverity(std::string_view text) {
  for (size_t i = 0; i < kSeverities.size(); ++i) {
    if (kSeverities[i] == text) return static_cast<Severity>(i);
  }
  return std::nullopt;
}

std::string_view ToString(Feedback feedback) { return kFeedback[static_cast<size_t>(feedback)]; }

std::optional<Feedback> ParseFeedback(std::string_view text) {
  for (size_t i = 0; i < kFeedback.size(); ++i) {
    if (kFeedback[i] == text) return static_cast<Feedback>(i);
  }
  return std::nullopt;
}

}  // namespace netguard
