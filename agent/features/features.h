// CICFlowMeter features of a FlowRecord: Destination Port plus the 77 features of the CICIDS2017
// MachineLearningCVE files, under their exact names, in two modes (see docs/features.md).
#ifndef NETGUARD_AGENT_FEATURES_FEATURES_H_
#define NETGUARD_AGENT_FEATURES_FEATURES_H_

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/flow_record.h"
#include "flow_update.h"

namespace netguard::features {

/// Mode names as they appear in a model bundle's contract ("feature_mode").
inline constexpr std::string_view kModeCic2017 = "cic2017";
inline constexpr std::string_view kModeCorrected = "corrected";

/// How features are computed.
enum class FeatureMode : uint8_t {
  /// What the 2017 CICFlowMeter (jnetpcap) really computed, quirks included, so models trained
  /// on the public CICIDS2017 CSVs see the same values (../shared/data/cic/FEATURES.md).
  kCic2017 = 0,
  /// What the names say (the documented fixes in docs/features.md).
  kCorrected = 1,
};
/// "cic2017" or "corrected".
std::string_view ToString(FeatureMode mode);
/// Parses a mode name; nullopt for anything else.
std::optional<FeatureMode> ParseFeatureMode(std::string_view text);

/// Destination Port + 77 features, in MachineLearningCVE column order.
inline constexpr size_t kCicFeatureCount = 78;
/// Then the context features (features/context.h: Ctx Src Flows, Ctx Src Dst Flows, Ctx Dst
/// Flows, Ctx Dst Svc Flows), which no CICIDS2017 file has.
inline constexpr size_t kContextFirst = kCicFeatureCount;
inline constexpr size_t kContextFeatureCount = 4;
inline constexpr size_t kFeatureCount = kCicFeatureCount + kContextFeatureCount;
using FeatureVector = std::array<double, kFeatureCount>;

/// Column names exactly as in the MachineLearningCVE CSV headers, leading spaces included
/// (" Destination Port", "Total Length of Fwd Packets", ...), then the context features' names.
/// "Fwd Header Length" appears twice (indexes 34 and 55), as in the CSVs.
const std::array<std::string_view, kFeatureCount>& FeatureNamesRaw();
/// The same names without the leading space ("Destination Port", ...).
const std::array<std::string_view, kFeatureCount>& FeatureNames();
/// Index of a name (with or without the leading space); the first of the duplicated "Fwd
/// Header Length"; "Fwd Header Length.1" (pandas' name) gives the second. nullopt if unknown.
std::optional<size_t> FeatureIndex(std::string_view name);
/// True for features the CSVs write as integers (counts, ports, flags, header bytes, windows).
bool IsIntegerFeature(size_t index);

/// Computes the feature vector of `flow` in `mode`. Needs at least one packet in the flow. The
/// context features are left missing (NaN): FlowContext::Observe fills them.
FeatureVector ComputeFeatures(const FlowRecord& flow, FeatureMode mode);

/// A flow that starts in the middle of a TCP connection, in corrected mode: at most 2 packets,
/// none with SYN, every one with ACK, no flag but FIN/ACK/RST and no payload. The first FIN ends
/// a connection's flow (flows.end_on_fin), so the peer's FIN and the last ACK come as such flows,
/// and so does the RST a closed port answers a FIN or Xmas probe with (the probe itself has no
/// ACK). They look the same whichever connection they close, so the ML detector does not judge
/// them and ngtrain neither trains nor evaluates on them. Always false in cic2017 mode, whose flag
/// columns are the first packet's flags and whose training data (CICIDS2017) keeps such flows.
bool IsConnectionRemnant(const FeatureVector& v, FeatureMode mode);

/// Flow lifecycle a mode expects from the capture layer: the kernel/pcap step parameters, the
/// idle timeout, and the smallest flow that is written out.
struct FlowLifecycle {
  ng_step_params step;
  std::chrono::nanoseconds idle_timeout;
  uint64_t min_packets;  // flows with fewer packets produce no feature row
};
/// cic2017: flows end at the first FIN except on their first packet (RST does not end them), 120 s
/// after their first packet, never on idleness (the idle timeout equals the active timeout, which
/// makes it inert), and 1-packet flows are not written. corrected: the product defaults (FIN or
/// RST, 120 s active, 30 s idle) and every flow is written.
FlowLifecycle LifecycleFor(FeatureMode mode);

}  // namespace netguard::features

#endif  // NETGUARD_AGENT_FEATURES_FEATURES_H_
