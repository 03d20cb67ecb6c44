// What reacts to committed alerts (the auto-block policy, the reputation), called by FlowSink.
#ifndef NETGUARD_AGENT_PIPELINE_ALERT_OBSERVER_H_
#define NETGUARD_AGENT_PIPELINE_ALERT_OBSERVER_H_

#include "core/alert.h"

namespace netguard::pipeline {

/// Sees every alert after the store committed it (alert.id is set), in commit order, one call
/// at a time, without the detectors' lock held: an observer may take its time (a store write,
/// a kernel map update) and may call into the store. An exception it throws is logged and
/// dropped; the other observers still see the alert.
class AlertObserver {
 public:
  virtual ~AlertObserver() = default;
  /// A committed alert.
  virtual void OnAlert(const Alert& alert) = 0;
};

}  // namespace netguard::pipeline

#endif  // NETGUARD_AGENT_PIPELINE_ALERT_OBSERVER_H_
