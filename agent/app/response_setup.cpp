#include "app/response_setup.h"

#include <spdlog/spdlog.h>

#include "respond/list_file.h"

namespace netguard::app {
namespace {

// pcap-live: alerts raise reputations, nothing can be blocked.
class RecordOnly final : public pipeline::AlertObserver {
 public:
  explicit RecordOnly(respond::Reputation& reputation) : reputation_(reputation) {}
  void OnAlert(const Alert& alert) override { reputation_.Record(alert); }

 private:
  respond::Reputation& reputation_;
};

respond::NeverBlockConfig NeverBlockFrom(const config::Config& c, std::vector<IpPrefix> allowlist) {
  return {.allowlist = std::move(allowlist),
          .never_block = c.response.never_block,
          .gateways = c.response.gateways,
          .dns_servers = c.response.dns_servers};
}

}  // namespace

respond::ReputationOptions ReputationFrom(const config::Config& c) {
  return {.half_life = c.reputation.half_life,
          .suspicious_threshold = c.reputation.suspicious_threshold,
          .malicious_threshold = c.reputation.malicious_threshold,
          .max_addresses = c.reputation.max_addresses,
          .severity_points = c.reputation.severity_points,
          .class_weights = c.reputation.class_weights};
}

respond::AutoBlockOptions AutoBlockFrom(const config::Config& c) {
  return {.enabled = c.response.auto_block,
          .dry_run = c.response.dry_run,
          .min_severity = c.response.min_severity,
          .min_score = c.response.min_score,
          .base_ttl = c.response.base_ttl,
          .ttl_factor = c.response.ttl_factor,
          .max_ttl = c.response.max_ttl,
          .max_blocks_per_minute = c.response.max_blocks_per_minute};
}

ResponseSetup::ResponseSetup(const config::Config& c, store::Store& store,
                             respond::BlockManager* blocks)
    : blocks_(blocks),
      reputation_(store, ReputationFrom(c)),
      never_block_(NeverBlockFrom(c, c.allowlist)) {
  ApplyLists(c);
  if (blocks) {
    blocker_ = std::make_unique<respond::AutoBlocker>(reputation_, *blocks, never_block_,
                                                      AutoBlockFrom(c));
    observer_ = blocker_.get();
    spdlog::info(
        "auto-block: {}{}", c.response.auto_block ? "on" : "off",
        c.response.auto_block && c.response.dry_run ? " (dry-run: records, blocks nothing)" : "");
  } else {
    record_only_ = std::make_unique<RecordOnly>(reputation_);
    observer_ = record_only_.get();
  }
  spdlog::info("reputation: {} address(es) loaded from the store", reputation_.size());
}

void ResponseSetup::ApplyLists(const config::Config& c) {
  try {
    std::vector<IpPrefix> allow = respond::LoadListFiles(c.reputation.allowlist_files);
    std::vector<IpPrefix> block = respond::LoadListFiles(c.reputation.blocklist_files);
    file_allowlist_ = std::move(allow);
    file_blocklist_ = std::move(block);
  } catch (const respond::ListFileError&) {
    ApplyAllowlist(c);  // the old files' entries with the new `allowlist:` key
    throw;
  }
  spdlog::info("reputation: {} allowlisted and {} blocklisted prefix(es) from list files",
               file_allowlist_.size(), file_blocklist_.size());
  ApplyAllowlist(c);
}

void ResponseSetup::ApplyAllowlist(const config::Config& c) {
  std::vector<IpPrefix> allow = c.allowlist;
  allow.insert(allow.end(), file_allowlist_.begin(), file_allowlist_.end());
  never_block_.set_config(NeverBlockFrom(c, allow));
  if (blocks_) blocks_->set_allowlist(allow);
  reputation_.SetLists(std::move(allow), file_blocklist_);
}

void ResponseSetup::Reload(const config::Config& next) {
  reputation_.set_options(ReputationFrom(next));
  if (blocker_) blocker_->set_options(AutoBlockFrom(next));
  never_block_.Refresh();
  try {
    ApplyLists(next);
  } catch (const respond::ListFileError& e) {
    spdlog::error("SIGHUP: keeping the list files' previous entries: {}", e.what());
  }
}

void ResponseSetup::AppendCounters(std::vector<std::pair<std::string, uint64_t>>& out) const {
  out.emplace_back("reputation_addresses", reputation_.size());
  out.emplace_back("reputation_evicted", reputation_.evicted());
  if (!blocker_) return;
  const respond::AutoBlockCounters& c = blocker_->counters();
  out.emplace_back("auto_blocks", c.blocked.load());
  out.emplace_back("auto_would_blocks", c.would_block.load());
  out.emplace_back("auto_block_spared", c.spared.load());
  out.emplace_back("auto_block_rate_capped", c.rate_capped.load());
  out.emplace_back("auto_block_failed", c.failed.load());
}

}  // namespace netguard::app
