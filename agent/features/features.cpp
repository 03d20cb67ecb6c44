#include "features/features.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace netguard::features {
namespace {

// Column indexes, MachineLearningCVE order.
enum Col : size_t {
  kDstPort,
  kFlowDuration,
  kTotFwdPkts,
  kTotBwdPkts,
  kTotLenFwd,
  kTotLenBwd,
  kFwdLenMax,
  kFwdLenMin,
  kFwdLenMean,
  kFwdLenStd,
  kBwdLenMax,
  kBwdLenMin,
  kBwdLenMean,
  kBwdLenStd,
  kFlowBytesPerSec,
  kFlowPktsPerSec,
  kFlowIatMean,
  kFlowIatStd,
  kFlowIatMax,
  kFlowIatMin,
  kFwdIatTotal,
  kFwdIatMean,
  kFwdIatStd,
  kFwdIatMax,
  kFwdIatMin,
  kBwdIatTotal,
  kBwdIatMean,
  kBwdIatStd,
  kBwdIatMax,
  kBwdIatMin,
  kFwdPsh,
  kBwdPsh,
  kFwdUrg,
  kBwdUrg,
  kFwdHdrLen,
  kBwdHdrLen,
  kFwdPktsPerSec,
  kBwdPktsPerSec,
  kMinPktLen,
  kMaxPktLen,
  kPktLenMean,
  kPktLenStd,
  kPktLenVar,
  kFinCount,
  kSynCount,
  kRstCount,
  kPshCount,
  kAckCount,
  kUrgCount,
  kCweCount,
  kEceCount,
  kDownUp,
  kAvgPktSize,
  kAvgFwdSeg,
  kAvgBwdSeg,
  kFwdHdrLen2,
  kFwdBytesBulk,
  kFwdPktsBulk,
  kFwdBulkRate,
  kBwdBytesBulk,
  kBwdPktsBulk,
  kBwdBulkRate,
  kSubFwdPkts,
  kSubFwdBytes,
  kSubBwdPkts,
  kSubBwdBytes,
  kInitWinFwd,
  kInitWinBwd,
  kActDataFwd,
  kMinSegFwd,
  kActiveMean,
  kActiveStd,
  kActiveMax,
  kActiveMin,
  kIdleMean,
  kIdleStd,
  kIdleMax,
  kIdleMin,
  kCtxSrc,
  kCtxSrcDst,
  kCtxDst,
  kCtxDstSvc,
  kColCount,
};
static_assert(kColCount == kFeatureCount && kCtxSrc == kContextFirst);

constexpr std::array<std::string_view, kFeatureCount> kRawNames = {
    " Destination Port",
    " Flow Duration",
    " Total Fwd Packets",
    " Total Backward Packets",
    "Total Length of Fwd Packets",
    " Total Length of Bwd Packets",
    " Fwd Packet Length Max",
    " Fwd Packet Length Min",
    " Fwd Packet Length Mean",
    " Fwd Packet Length Std",
    "Bwd Packet Length Max",
    " Bwd Packet Length Min",
    " Bwd Packet Length Mean",
    " Bwd Packet Length Std",
    "Flow Bytes/s",
    " Flow Packets/s",
    " Flow IAT Mean",
    " Flow IAT Std",
    " Flow IAT Max",
    " Flow IAT Min",
    "Fwd IAT Total",
    " Fwd IAT Mean",
    " Fwd IAT Std",
    " Fwd IAT Max",
    " Fwd IAT Min",
    "Bwd IAT Total",
    " Bwd IAT Mean",
    " Bwd IAT Std",
    " Bwd IAT Max",
    " Bwd IAT Min",
    "Fwd PSH Flags",
    " Bwd PSH Flags",
    " Fwd URG Flags",
    " Bwd URG Flags",
    " Fwd Header Length",
    " Bwd Header Length",
    "Fwd Packets/s",
    " Bwd Packets/s",
    " Min Packet Length",
    " Max Packet Length",
    " Packet Length Mean",
    " Packet Length Std",
    " Packet Length Variance",
    "FIN Flag Count",
    " SYN Flag Count",
    " RST Flag Count",
    " PSH Flag Count",
    " ACK Flag Count",
    " URG Flag Count",
    " CWE Flag Count",
    " ECE Flag Count",
    " Down/Up Ratio",
    " Average Packet Size",
    " Avg Fwd Segment Size",
    " Avg Bwd Segment Size",
    " Fwd Header Length",
    "Fwd Avg Bytes/Bulk",
    " Fwd Avg Packets/Bulk",
    " Fwd Avg Bulk Rate",
    " Bwd Avg Bytes/Bulk",
    " Bwd Avg Packets/Bulk",
    "Bwd Avg Bulk Rate",
    "Subflow Fwd Packets",
    " Subflow Fwd Bytes",
    " Subflow Bwd Packets",
    " Subflow Bwd Bytes",
    "Init_Win_bytes_forward",
    " Init_Win_bytes_backward",
    " act_data_pkt_fwd",
    " min_seg_size_forward",
    "Active Mean",
    " Active Std",
    " Active Max",
    " Active Min",
    "Idle Mean",
    " Idle Std",
    " Idle Max",
    " Idle Min",
    "Ctx Src Flows",
    "Ctx Src Dst Flows",
    "Ctx Dst Flows",
    "Ctx Dst Svc Flows",
};

constexpr std::array<std::string_view, kFeatureCount> StripNames() {
  std::array<std::string_view, kFeatureCount> out{};
  for (size_t i = 0; i < kFeatureCount; i++) {
    std::string_view n = kRawNames[i];
    if (!n.empty() && n.front() == ' ') n.remove_prefix(1);
    out[i] = n;
  }
  return out;
}
constexpr std::array<std::string_view, kFeatureCount> kNames = StripNames();

// Sample statistics of n values with sum s and sum of squares ss (n - 1 denominator, 0 when
// n < 2), from exact integer arithmetic: n*ss - s^2 needs up to ~2^127.
double SampleVariance(uint64_t n, int64_t s, uint64_t ss) {
  if (n < 2) return 0;
#ifdef __SIZEOF_INT128__
  __extension__ typedef unsigned __int128 u128;
  const u128 abs_s = s < 0 ? static_cast<u128>(-(s + 1)) + 1 : static_cast<u128>(s);
  const u128 num = static_cast<u128>(n) * ss - abs_s * abs_s;
  return static_cast<double>(static_cast<long double>(num) /
                             (static_cast<long double>(n) * static_cast<long double>(n - 1)));
#else
  const long double mean = static_cast<long double>(s) / n;
  const long double num = static_cast<long double>(ss) - mean * static_cast<long double>(s);
  return static_cast<double>(num / (n - 1));
#endif
}

double Mean(const ng_running& r) {
  return r.count ? static_cast<double>(static_cast<long double>(r.sum) / r.count) : 0.0;
}
double Std(const ng_running& r) { return std::sqrt(SampleVariance(r.count, r.sum, r.sum_sq)); }
double Max(const ng_running& r) { return r.count ? static_cast<double>(r.max) : 0.0; }
double Min(const ng_running& r) { return r.count ? static_cast<double>(r.min) : 0.0; }

int Bit(uint8_t flags, uint8_t flag) { return (flags & flag) ? 1 : 0; }

int FlagIndex(uint8_t flag) {
  int i = 0;
  while (!(flag & 1)) {
    flag >>= 1;
    i++;
  }
  return i;
}

}  // namespace

std::string_view ToString(FeatureMode mode) {
  return mode == FeatureMode::kCic2017 ? kModeCic2017 : kModeCorrected;
}

std::optional<FeatureMode> ParseFeatureMode(std::string_view text) {
  if (text == kModeCic2017) return FeatureMode::kCic2017;
  if (text == kModeCorrected) return FeatureMode::kCorrected;
  return std::nullopt;
}

const std::array<std::string_view, kFeatureCount>& FeatureNamesRaw() { return kRawNames; }
const std::array<std::string_view, kFeatureCount>& FeatureNames() { return kNames; }

std::optional<size_t> FeatureIndex(std::string_view name) {
  if (name == "Fwd Header Length.1") return kFwdHdrLen2;
  if (!name.empty() && name.front() == ' ') name.remove_prefix(1);
  for (size_t i = 0; i < kFeatureCount; i++)
    if (kNames[i] == name) return i;
  return std::nullopt;
}

bool IsIntegerFeature(size_t i) {
  switch (i) {
    case kDstPort:
    case kFlowDuration:
    case kTotFwdPkts:
    case kTotBwdPkts:
    case kFwdPsh:
    case kBwdPsh:
    case kFwdUrg:
    case kBwdUrg:
    case kFwdHdrLen:
    case kBwdHdrLen:
    case kFwdHdrLen2:
    case kSubFwdPkts:
    case kSubFwdBytes:
    case kSubBwdPkts:
    case kSubBwdBytes:
    case kInitWinFwd:
    case kInitWinBwd:
    case kActDataFwd:
    case kMinSegFwd:
      return true;
    default:
      if (i >= kContextFirst) return true;
      return (i >= kFinCount && i <= kEceCount) || (i >= kFwdBytesBulk && i <= kBwdBulkRate);
  }
}

FeatureVector ComputeFeatures(const FlowRecord& record, FeatureMode mode) {
  const bool cic = mode == FeatureMode::kCic2017;
  const ng_flow& f = record.acc;
  const ng_dir_stats& fw = f.dir[NG_DIR_FWD];
  const ng_dir_stats& bw = f.dir[NG_DIR_BWD];
  const bool tcp = record.key.proto == NG_IPPROTO_TCP;
  FeatureVector v{};
  std::fill(v.begin() + kContextFirst, v.end(), std::numeric_limits<double>::quiet_NaN());

  // the first packet's destination is the responder
  v[kDstPort] = f.initiator == NG_SIDE_A ? record.key.port_b : record.key.port_a;
  const int64_t duration =
      static_cast<int64_t>(f.last_ts_ns / 1000) - static_cast<int64_t>(f.first_ts_ns / 1000);
  v[kFlowDuration] = static_cast<double>(duration);

  const uint64_t fwd_pkts = fw.payload.count, bwd_pkts = bw.payload.count;
  const uint64_t packets = fwd_pkts + bwd_pkts;
  const int64_t fwd_bytes = fw.payload.sum, bwd_bytes = bw.payload.sum;
  v[kTotFwdPkts] = static_cast<double>(fwd_pkts);
  v[kTotBwdPkts] = static_cast<double>(bwd_pkts);
  v[kTotLenFwd] = static_cast<double>(fwd_bytes);
  v[kTotLenBwd] = static_cast<double>(bwd_bytes);
  v[kFwdLenMax] = Max(fw.payload);
  v[kFwdLenMin] = Min(fw.payload);
  v[kFwdLenMean] = Mean(fw.payload);
  v[kFwdLenStd] = Std(fw.payload);
  v[kBwdLenMax] = Max(bw.payload);
  v[kBwdLenMin] = Min(bw.payload);
  v[kBwdLenMean] = Mean(bw.payload);
  v[kBwdLenStd] = Std(bw.payload);

  // Java: (double)bytes / ((double)duration / 1000000L): NaN or Infinity at duration 0
  const double seconds = static_cast<double>(duration) / 1e6;
  const double total_bytes = static_cast<double>(fwd_bytes + bwd_bytes);
  if (cic || duration > 0) {
    v[kFlowBytesPerSec] = total_bytes / seconds;
    v[kFlowPktsPerSec] = static_cast<double>(packets) / seconds;
  }
  if (duration > 0) {
    v[kFwdPktsPerSec] = static_cast<double>(fwd_pkts) / seconds;
    v[kBwdPktsPerSec] = static_cast<double>(bwd_pkts) / seconds;
  }

  v[kFlowIatMean] = Mean(f.iat);
  v[kFlowIatStd] = Std(f.iat);
  v[kFlowIatMax] = Max(f.iat);
  v[kFlowIatMin] = Min(f.iat);
  v[kFwdIatTotal] = static_cast<double>(fw.iat.sum);
  v[kFwdIatMean] = Mean(fw.iat);
  v[kFwdIatStd] = Std(fw.iat);
  v[kFwdIatMax] = Max(fw.iat);
  v[kFwdIatMin] = Min(fw.iat);
  v[kBwdIatTotal] = static_cast<double>(bw.iat.sum);
  v[kBwdIatMean] = Mean(bw.iat);
  v[kBwdIatStd] = Std(bw.iat);
  v[kBwdIatMax] = Max(bw.iat);
  v[kBwdIatMin] = Min(bw.iat);

  const uint8_t first = f.first_tcp_flags;
  auto count = [&](uint8_t flag) {
    const int bit = FlagIndex(flag);
    return static_cast<double>(fw.flag_counts[bit] + bw.flag_counts[bit]);
  };
  if (cic) {
    // the 2017 tool read the flags of the first packet only
    v[kFwdPsh] = Bit(first, NG_TCP_PSH);
    v[kFwdUrg] = Bit(first, NG_TCP_URG);
  } else {
    v[kFwdPsh] = fw.flag_counts[FlagIndex(NG_TCP_PSH)];
    v[kBwdPsh] = bw.flag_counts[FlagIndex(NG_TCP_PSH)];
    v[kFwdUrg] = fw.flag_counts[FlagIndex(NG_TCP_URG)];
    v[kBwdUrg] = bw.flag_counts[FlagIndex(NG_TCP_URG)];
  }
  v[kFwdHdrLen] = static_cast<double>(fw.l4_hdr_bytes);
  v[kBwdHdrLen] = static_cast<double>(bw.l4_hdr_bytes);
  v[kFwdHdrLen2] = v[kFwdHdrLen];

  // packet-length statistics over both directions; cic2017 adds the first packet twice
  const uint64_t dup = cic ? f.first_payload_len : 0;
  const uint64_t n = packets + (cic ? 1 : 0);
  const int64_t s = fwd_bytes + bwd_bytes + static_cast<int64_t>(dup);
  const uint64_t ss = fw.payload.sum_sq + bw.payload.sum_sq + dup * dup;
  double min_len = 0, max_len = 0;
  if (fwd_pkts && bwd_pkts) {
    min_len = std::min(Min(fw.payload), Min(bw.payload));
    max_len = std::max(Max(fw.payload), Max(bw.payload));
  } else if (fwd_pkts || bwd_pkts) {
    const ng_running& only = fwd_pkts ? fw.payload : bw.payload;
    min_len = Min(only);
    max_len = Max(only);
  }
  v[kMinPktLen] = min_len;
  v[kMaxPktLen] = max_len;
  v[kPktLenMean] = n ? static_cast<double>(static_cast<long double>(s) / n) : 0.0;
  v[kPktLenVar] = SampleVariance(n, s, ss);
  v[kPktLenStd] = std::sqrt(v[kPktLenVar]);

  if (cic) {
    // the first packet's flags, written in the tool's HashMap order
    v[kFinCount] = Bit(first, NG_TCP_RST);
    v[kSynCount] = Bit(first, NG_TCP_PSH);
    v[kRstCount] = Bit(first, NG_TCP_ECE);
    v[kPshCount] = Bit(first, NG_TCP_SYN);
    v[kAckCount] = Bit(first, NG_TCP_ACK);
    v[kUrgCount] = Bit(first, NG_TCP_FIN);
    v[kCweCount] = Bit(first, NG_TCP_URG);
    v[kEceCount] = Bit(first, NG_TCP_CWR);
  } else {
    v[kFinCount] = count(NG_TCP_FIN);
    v[kSynCount] = count(NG_TCP_SYN);
    v[kRstCount] = count(NG_TCP_RST);
    v[kPshCount] = count(NG_TCP_PSH);
    v[kAckCount] = count(NG_TCP_ACK);
    v[kUrgCount] = count(NG_TCP_URG);
    v[kCweCount] = count(NG_TCP_CWR);
    v[kEceCount] = count(NG_TCP_ECE);
  }

  if (fwd_pkts > 0) {
    v[kDownUp] = cic ? static_cast<double>(bwd_pkts / fwd_pkts)
                     : static_cast<double>(bwd_pkts) / static_cast<double>(fwd_pkts);
  }
  if (packets > 0) {
    // cic2017 divides the sum with the duplicated first packet by the real count
    v[kAvgPktSize] = static_cast<double>(
        static_cast<long double>(fwd_bytes + bwd_bytes + static_cast<int64_t>(dup)) / packets);
  }
  v[kAvgFwdSeg] = v[kFwdLenMean];
  v[kAvgBwdSeg] = v[kBwdLenMean];
  // bulk features: always 0 in the 2017 tool; not derivable from the accumulators either way

  v[kSubFwdPkts] = static_cast<double>(fwd_pkts);
  v[kSubFwdBytes] = static_cast<double>(fwd_bytes);
  v[kSubBwdPkts] = static_cast<double>(bwd_pkts);
  v[kSubBwdBytes] = static_cast<double>(bwd_bytes);

  v[kInitWinFwd] = tcp && fwd_pkts ? fw.init_win : -1;
  v[kInitWinBwd] = tcp && bwd_pkts ? (cic ? bw.last_win : bw.init_win) : -1;
  const uint32_t first_is_data = cic && fwd_pkts && f.first_payload_len > 0 ? 1 : 0;
  v[kActDataFwd] = fw.data_pkts - first_is_data;
  v[kMinSegFwd] = fwd_pkts ? fw.l4_hdr_min : 0;

  ng_running active = f.active;
  if (!cic) {
    // close the period still open at the flow's last packet, as the names imply
    const int64_t open = static_cast<int64_t>(f.last_ts_ns / 1000) - f.active_start_us;
    if (open > 0) ng_running_add(&active, open);
  }
  v[kActiveMean] = Mean(active);
  v[kActiveStd] = Std(active);
  v[kActiveMax] = Max(active);
  v[kActiveMin] = Min(active);
  v[kIdleMean] = Mean(f.idle);
  v[kIdleStd] = Std(f.idle);
  v[kIdleMax] = Max(f.idle);
  v[kIdleMin] = Min(f.idle);
  return v;
}

bool IsConnectionRemnant(const FeatureVector& v, FeatureMode mode) {
  if (mode != FeatureMode::kCorrected) return false;
  const double packets = v[kTotFwdPkts] + v[kTotBwdPkts];
  return packets >= 1 && packets <= 2 && v[kSynCount] == 0 && v[kAckCount] == packets &&
         v[kPshCount] == 0 && v[kUrgCount] == 0 && v[kCweCount] == 0 && v[kEceCount] == 0 &&
         v[kTotLenFwd] + v[kTotLenBwd] == 0;
}

FlowLifecycle LifecycleFor(FeatureMode mode) {
  if (mode == FeatureMode::kCic2017) {
    return {{NG_DEFAULT_ACTIVITY_TIMEOUT_US, NG_DEFAULT_ACTIVE_TIMEOUT_NS,
             NG_END_ON_FIN | NG_END_NOT_ON_FIRST | NG_END_NO_IDLE_ON_END},
            std::chrono::nanoseconds(NG_DEFAULT_ACTIVE_TIMEOUT_NS),
            2};
  }
  return {
      {NG_DEFAULT_ACTIVITY_TIMEOUT_US, NG_DEFAULT_ACTIVE_TIMEOUT_NS, NG_END_ON_FIN | NG_END_ON_RST},
      std::chrono::seconds(30),
      1};
}

}  // namespace netguard::features
