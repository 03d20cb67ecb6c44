// Shared by the ML unit tests: synthetic flows of three kinds through the shared per-packet
// update rule, and a tiny bundle trained on them in well under a second.
#ifndef NETGUARD_TESTS_UNIT_ML_TEST_UTIL_H_
#define NETGUARD_TESTS_UNIT_ML_TEST_UTIL_H_

#include <arpa/inet.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/flow_record.h"
#include "detect/ml/bundle.h"
#include "detect/ml/classifier.h"
#include "features/features.h"
#include "flow_update.h"
#include "trainer.h"

namespace netguard::testing {

/// Kinds of synthetic flows; the value is the training label (0 benign, c + 1 class c).
enum class FlowKind { kBenign = 0, kPortScan = 1, kBruteForce = 2 };

/// A TCP flow of `kind` from 10.0.0.66 built with ng_flow_start/ng_flow_add: benign = an HTTPS
/// exchange of 10-30 packets with large payloads, PortScan = SYN then RST to a random port,
/// BruteForce = 12-20 small packets to port 22 every ~50 ms.
inline FlowRecord SyntheticFlow(FlowKind kind, std::mt19937_64& rng) {
  const auto uniform = [&rng](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  ng_pkt pkt{};
  pkt.family = NG_FAMILY_IPV4;
  inet_pton(AF_INET, "10.0.0.66", pkt.src);
  inet_pton(AF_INET, "10.0.0.10", pkt.dst);
  pkt.sport = static_cast<uint16_t>(uniform(32768, 60999));
  pkt.dport = kind == FlowKind::kPortScan     ? static_cast<uint16_t>(uniform(1, 1024))
              : kind == FlowKind::kBruteForce ? 22
                                              : 443;
  pkt.proto = NG_IPPROTO_TCP;
  pkt.l2_hdr_len = 14;
  pkt.l3_hdr_len = 20;
  pkt.l4_hdr_len = 32;
  FlowRecord flow;
  const uint8_t initiator = ng_flow_key_make(&pkt, &flow.key);
  uint64_t t = 1'700'000'000'000'000'000ULL + static_cast<uint64_t>(uniform(0, 1000)) * 1000000;
  flow.start_ns = static_cast<int64_t>(t);
  const int packets = kind == FlowKind::kPortScan     ? 2
                      : kind == FlowKind::kBruteForce ? uniform(12, 20)
                                                      : uniform(10, 30);
  for (int i = 0; i < packets; ++i) {
    const bool forward = i % 2 == 0;
    const uint8_t side = forward ? initiator : static_cast<uint8_t>(1 - initiator);
    pkt.payload_len = kind == FlowKind::kPortScan     ? 0
                      : kind == FlowKind::kBruteForce ? static_cast<uint32_t>(uniform(30, 90))
                                                      : static_cast<uint32_t>(uniform(200, 1400));
    pkt.tcp_flags =
        kind == FlowKind::kPortScan ? (forward ? NG_TCP_SYN : NG_TCP_RST | NG_TCP_ACK) : NG_TCP_ACK;
    pkt.window = static_cast<uint16_t>(kind == FlowKind::kPortScan ? 1024 : 64240);
    pkt.ip_len = pkt.l3_hdr_len + pkt.l4_hdr_len + pkt.payload_len;
    pkt.wire_len = pkt.ip_len + pkt.l2_hdr_len;
    if (i == 0) ng_flow_start(&flow.acc, &pkt, side, t);
    ng_flow_add(&flow.acc, &pkt, side, t, 5'000'000);
    t += kind == FlowKind::kBruteForce ? static_cast<uint64_t>(uniform(40, 60)) * 1000000
                                       : static_cast<uint64_t>(uniform(1, 5)) * 1000000;
  }
  flow.end_ns = static_cast<int64_t>(flow.acc.last_ts_ns);
  return flow;
}

/// A TCP flow of `flags` packets from 10.0.0.66:40000 to 10.0.0.10:80, one every ms, forward
/// and backward in turn, each with `payload` bytes.
inline FlowRecord TcpFlow(const std::vector<uint8_t>& flags, uint32_t payload = 0) {
  ng_pkt pkt{};
  pkt.family = NG_FAMILY_IPV4;
  inet_pton(AF_INET, "10.0.0.66", pkt.src);
  inet_pton(AF_INET, "10.0.0.10", pkt.dst);
  pkt.sport = 40000;
  pkt.dport = 80;
  pkt.proto = NG_IPPROTO_TCP;
  pkt.l2_hdr_len = 14;
  pkt.l3_hdr_len = 20;
  pkt.l4_hdr_len = 20;
  pkt.payload_len = payload;
  pkt.ip_len = pkt.l3_hdr_len + pkt.l4_hdr_len + payload;
  pkt.wire_len = pkt.ip_len + pkt.l2_hdr_len;
  FlowRecord flow;
  const uint8_t initiator = ng_flow_key_make(&pkt, &flow.key);
  uint64_t t = 1'700'000'000'000'000'000ULL;
  flow.start_ns = static_cast<int64_t>(t);
  for (size_t i = 0; i < flags.size(); ++i, t += 1'000'000) {
    const uint8_t side = i % 2 == 0 ? initiator : static_cast<uint8_t>(1 - initiator);
    pkt.tcp_flags = flags[i];
    if (i == 0) ng_flow_start(&flow.acc, &pkt, side, t);
    ng_flow_add(&flow.acc, &pkt, side, t, 5'000'000);
  }
  flow.end_ns = static_cast<int64_t>(flow.acc.last_ts_ns);
  return flow;
}

/// `per_kind` flows of each kind as training rows over the 78 per-flow features (corrected mode;
/// no context features: a lone flow has none).
inline ngtrain::LabelledRows SyntheticRows(size_t per_kind, uint64_t seed) {
  std::mt19937_64 rng(seed);
  ngtrain::LabelledRows rows;
  rows.d = features::kCicFeatureCount;
  for (size_t i = 0; i < per_kind; ++i) {
    for (FlowKind kind : {FlowKind::kBenign, FlowKind::kPortScan, FlowKind::kBruteForce}) {
      const features::FeatureVector v =
          features::ComputeFeatures(SyntheticFlow(kind, rng), features::FeatureMode::kCorrected);
      for (size_t f = 0; f < rows.d; ++f) rows.x.push_back(detect::ml::ToModelValue(v[f]));
      rows.y.push_back(static_cast<int>(kind));
    }
  }
  return rows;
}

/// A bundle skeleton over the 78 per-flow features with the classes PortScan and BruteForce.
inline detect::ml::Bundle SyntheticBundle(const std::string& name) {
  detect::ml::Bundle b;
  b.name = name;
  b.feature_mode = std::string(features::kModeCorrected);
  for (size_t f = 0; f < features::kCicFeatureCount; ++f) {
    b.features.push_back(detect::ml::BundleFeatureName(f));
  }
  b.classes = {{.name = "PortScan", .mitre = "T1046"}, {.name = "BruteForce", .mitre = "T1110"}};
  b.provenance_json = R"({"data":"synthetic"})";
  return b;
}

/// Trains the tiny synthetic bundle (10 rounds of depth 3) with `seed`.
inline detect::ml::Bundle TrainSynthetic(uint64_t seed) {
  detect::ml::Bundle b = SyntheticBundle("synthetic");
  ngtrain::TrainOptions o;
  o.seed = seed;
  o.rounds = 10;
  o.max_depth = 3;
  o.clusters = 3;
  o.anomaly_percentile = 99.0;
  ngtrain::Train(SyntheticRows(150, seed), SyntheticRows(30, seed + 100), o, b);
  return b;
}

/// A fresh directory under the system temp dir, removed with the object.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag) {
    path_ = std::filesystem::temp_directory_path() /
            ("ngm_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string str() const { return path_.string(); }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

}  // namespace netguard::testing

#endif  // NETGUARD_TESTS_UNIT_ML_TEST_UTIL_H_
