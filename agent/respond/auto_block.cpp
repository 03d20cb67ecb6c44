#include "respond/auto_block.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "common/clock.h"

namespace netguard::respond {
namespace {

constexpr int64_t kMinuteNs = 60'000'000'000;

}  // namespace

AutoBlocker::AutoBlocker(Reputation& reputation, BlockManager& blocks, NeverBlock& never_block,
                         AutoBlockOptions options, std::function<int64_t()> now)
    : reputation_(reputation),
      blocks_(blocks),
      never_block_(never_block),
      now_(now ? std::move(now) : std::function<int64_t()>(WallNowNs)),
      options_(options) {}

void AutoBlocker::set_options(AutoBlockOptions options) {
  std::lock_guard lock(mu_);
  options_ = options;
}

std::chrono::seconds GrownTtl(const AutoBlockOptions& options, uint32_t offences) {
  const double base = static_cast<double>(options.base_ttl.count());
  const double grown = base * std::pow(std::max(options.ttl_factor, 1.0), offences);
  const double cap = static_cast<double>(options.max_ttl.count());
  return std::chrono::seconds(static_cast<int64_t>(std::min(grown, cap)));
}

std::string AutoBlocker::Trigger(const Alert& alert, const IpReputation& r) const {
  std::string why;
  if (alert.severity >= options_.min_severity) {
    why =
        fmt::format("severity {} >= {}", ToString(alert.severity), ToString(options_.min_severity));
  } else if (options_.min_score > 0 && r.score >= options_.min_score) {
    why = fmt::format("score {:.1f} >= {:.1f}", r.score, options_.min_score);
  } else if (r.listed_malicious()) {
    why = r.in_blocklist_file ? "listed in a blocklist file" : "promoted to malicious by score";
  } else {
    return "";
  }
  return fmt::format("auto: {} {} alert {} ({}); {}; score {:.1f}", alert.alert_class,
                     alert.mitre_technique, alert.id, ToString(alert.severity), why, r.score);
}

void AutoBlocker::OnAlert(const Alert& alert) {
  const IpReputation r = reputation_.Record(alert);
  if (r.address.empty()) return;  // no source address to act on
  std::lock_guard lock(mu_);
  if (!options_.enabled) return;
  const std::string reason = Trigger(alert, r);
  if (reason.empty()) return;

  // The cap first: under an alert storm the checks below (a store read, the system's
  // addresses) are not repeated for every alert that could not lead to a block anyway.
  const int64_t now = now_();
  while (!recent_blocks_ns_.empty() && recent_blocks_ns_.front() <= now - kMinuteNs) {
    recent_blocks_ns_.pop_front();
  }
  if (recent_blocks_ns_.size() >= options_.max_blocks_per_minute) {
    counters_.rate_capped.fetch_add(1);
    if (now - last_cap_log_ns_ >= kMinuteNs) {  // one warning a minute, not one per alert
      last_cap_log_ns_ = now;
      spdlog::warn(
          "auto-block: {} new blocks in the last minute (max_blocks_per_minute); not "
          "blocking {}: {}",
          recent_blocks_ns_.size(), r.address, reason);
    }
    return;
  }

  const IpPrefix host = IpPrefix::Parse(r.address);
  never_block_.Refresh();  // interfaces and resolvers may have changed since the last decision
  if (std::optional<std::string> why = never_block_.Why(host)) {
    counters_.spared.fetch_add(1);
    spdlog::info("auto-block: sparing {} ({}): {}", r.address, *why, reason);
    return;
  }
  if (std::optional<store::BlockRecord> existing = blocks_.Covering(host)) {
    // Already enforced, or already recorded in the mode we are in: nothing new to do.
    if (!existing->dry_run || options_.dry_run) return;
  }

  const std::chrono::seconds ttl = GrownTtl(options_, r.offences);
  try {
    blocks_.Block({.prefix = host.ToString(),
                   .ttl = ttl,
                   .reason = reason,
                   .automatic = true,
                   .alert_ids = r.recent_alert_ids,
                   .dry_run = options_.dry_run});
  } catch (const std::exception& e) {
    counters_.failed.fetch_add(1);
    spdlog::warn("auto-block: not blocking {}: {}", r.address, e.what());
    return;
  }
  recent_blocks_ns_.push_back(now);
  if (options_.dry_run) {
    counters_.would_block.fetch_add(1);
    spdlog::warn("auto-block (dry-run): would block {} for {} s: {}", r.address, ttl.count(),
                 reason);
    return;
  }
  const uint32_t offences = reputation_.AddOffence(r.address, alert.time_ns);
  counters_.blocked.fetch_add(1);
  spdlog::warn("auto-block: blocked {} for {} s (offence {}): {}", r.address, ttl.count(), offences,
               reason);
}

}  // namespace netguard::respond
