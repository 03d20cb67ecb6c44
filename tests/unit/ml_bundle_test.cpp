// Model bundles and the agent's ML path: round trip, refusal of corrupt or mismatched bundles,
// verdicts of a tiny trained bundle through the Classifier and the MlDetector, SHAP evidence,
// and the swappable ModelSlot.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "detect/ml/bundle.h"
#include "detect/ml/classifier.h"
#include "detect/ml/ml_detector.h"
#include "detect/ml/model_slot.h"
#include "trainer.h"
#include "unit/ml_test_util.h"

namespace netguard::detect::ml {
namespace {

using netguard::testing::FlowKind;
using netguard::testing::ScratchDir;
using netguard::testing::SyntheticFlow;

struct Collector : AlertSink {
  void Emit(Alert alert) override { alerts.push_back(std::move(alert)); }
  std::vector<Alert> alerts;
};

// One trained bundle for the whole suite (training takes a fraction of a second).
class MlBundleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir("bundle");
    Bundle b = netguard::testing::TrainSynthetic(11);
    WriteBundle(b, dir_->str());
  }
  static void TearDownTestSuite() { delete dir_; }

  // A copy of the bundle directory to damage.
  std::string Copy(const ScratchDir& to) const {
    std::filesystem::copy(dir_->str(), to.str(),
                          std::filesystem::copy_options::recursive |
                              std::filesystem::copy_options::overwrite_existing);
    return to.str();
  }
  static std::string LoadError(const std::string& dir,
                               features::FeatureMode mode = features::FeatureMode::kCorrected) {
    try {
      LoadClassifier(dir, mode);
    } catch (const BundleError& e) {
      return e.what();
    }
    return "no error";
  }
  static void EditManifest(const std::string& dir, const std::function<void(nlohmann::json&)>& f) {
    nlohmann::json j = nlohmann::json::parse(std::ifstream(dir + "/bundle.json"));
    f(j);
    std::ofstream(dir + "/bundle.json", std::ios::trunc) << j.dump(1);
  }

  static inline ScratchDir* dir_ = nullptr;
};

TEST_F(MlBundleTest, RoundTripKeepsEveryField) {
  const Bundle trained = netguard::testing::TrainSynthetic(11);
  const Bundle loaded = LoadBundle(dir_->str());
  EXPECT_EQ(loaded.name, "synthetic");
  EXPECT_EQ(loaded.feature_mode, "corrected");
  EXPECT_EQ(loaded.features, trained.features);
  EXPECT_EQ(loaded.features[55], "Fwd Header Length.1");
  ASSERT_EQ(loaded.classes.size(), 2u);
  EXPECT_EQ(loaded.classes[0].name, "PortScan");
  EXPECT_EQ(loaded.classes[1].mitre, "T1110");
  EXPECT_DOUBLE_EQ(loaded.classes[1].threshold, trained.classes[1].threshold);
  EXPECT_DOUBLE_EQ(loaded.classes[0].f1, trained.classes[0].f1);
  EXPECT_DOUBLE_EQ(loaded.gate_threshold, trained.gate_threshold);
  EXPECT_DOUBLE_EQ(loaded.temperature, trained.temperature);
  EXPECT_EQ(loaded.kmeans.k, trained.kmeans.k);
  EXPECT_EQ(loaded.kmeans.centroids, trained.kmeans.centroids);
  EXPECT_DOUBLE_EQ(loaded.kmeans.threshold, trained.kmeans.threshold);
  EXPECT_EQ(loaded.metrics.labels, (std::vector<std::string>{"BENIGN", "PortScan", "BruteForce"}));
  EXPECT_EQ(loaded.metrics.confusion, trained.metrics.confusion);
  EXPECT_EQ(loaded.metrics.test_rows, 90u);
  EXPECT_EQ(loaded.gate_model, trained.gate_model);
  EXPECT_EQ(loaded.multiclass_model, trained.multiclass_model);
  EXPECT_EQ(loaded.checksum.size(), 64u);
  EXPECT_FALSE(loaded.importances.empty());
  EXPECT_EQ(nlohmann::json::parse(loaded.provenance_json)["data"], "synthetic");
}

TEST_F(MlBundleTest, CorruptOrMissingFilesAreNamed) {
  {
    ScratchDir t("bad");
    const std::string d = Copy(t);
    std::ofstream(d + "/bundle.json", std::ios::trunc) << "{\"name\": ";
    EXPECT_EQ(LoadError(d), d + "/bundle.json: not valid JSON");
  }
  {
    ScratchDir t("bad");
    const std::string d = Copy(t);
    std::filesystem::remove(d + "/gate.ubj");
    EXPECT_EQ(LoadError(d), d + "/gate.ubj: missing or unreadable");
  }
  {
    ScratchDir t("bad");
    const std::string d = Copy(t);
    std::fstream f(d + "/multiclass.ubj", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x7f');
    f.close();
    EXPECT_NE(LoadError(d).find(d + "/multiclass.ubj: checksum mismatch"), std::string::npos);
  }
  {
    ScratchDir t("bad");
    const std::string d = Copy(t);
    EditManifest(d, [](nlohmann::json& j) { j.erase("classes"); });
    EXPECT_EQ(LoadError(d), d + "/bundle.json: classes: missing");
  }
  {
    ScratchDir t("bad");
    const std::string d = Copy(t);
    EditManifest(d, [](nlohmann::json& j) { j["format_version"] = 9; });
    EXPECT_NE(LoadError(d).find("format_version: is 9"), std::string::npos);
  }
  EXPECT_NE(LoadError("/nonexistent/ngm").find("not a bundle directory"), std::string::npos);
}

TEST_F(MlBundleTest, MismatchedFeaturesOrModeAreRefused) {
  EXPECT_NE(LoadError(dir_->str(), features::FeatureMode::kCic2017)
                .find("feature_mode is 'corrected' but the extractor runs in 'cic2017'"),
            std::string::npos);
  {
    ScratchDir t("bad");
    const std::string d = Copy(t);
    EditManifest(d, [](nlohmann::json& j) { j["features"][3] = "Bogus Feature"; });
    EXPECT_EQ(LoadError(d),
              d + "/bundle.json: features: 'Bogus Feature' is not a feature of the extractor");
  }
  {
    ScratchDir t("bad");
    const std::string d = Copy(t);
    EditManifest(d, [](nlohmann::json& j) { j["features"].erase(j["features"].size() - 1); });
    EXPECT_EQ(LoadError(d),
              d + "/centroids.json: mean/scale: expected 77 values (one per feature)");
    // With consistent centroids, the models themselves disagree.
    nlohmann::json c = nlohmann::json::parse(std::ifstream(d + "/centroids.json"));
    c["mean"].erase(77);
    c["scale"].erase(77);
    for (auto& centroid : c["centroids"]) centroid.erase(77);
    const std::string text = c.dump();
    std::ofstream(d + "/centroids.json", std::ios::trunc) << text;
    EditManifest(d,
                 [&](nlohmann::json& j) { j["files"]["centroids"]["sha256"] = Sha256Hex(text); });
    EXPECT_EQ(LoadError(d), d + "/gate.ubj: the model takes 78 features, bundle.json lists 77");
  }
  {
    ScratchDir t("bad");
    const std::string d = Copy(t);
    EditManifest(d, [](nlohmann::json& j) {
      j["classes"].push_back(j["classes"][0]);
      j["classes"][2]["name"] = "DNSTunnel";
    });
    EXPECT_EQ(LoadError(d), d + "/multiclass.ubj: the model has 2 classes, bundle.json lists 3");
  }
}

TEST_F(MlBundleTest, ClassifierSeparatesTheSyntheticKinds) {
  const auto model = LoadClassifier(dir_->str(), features::FeatureMode::kCorrected);
  const ngtrain::LabelledRows rows = netguard::testing::SyntheticRows(40, 999);
  std::vector<Verdict> verdicts;
  model->Classify(rows.x, rows.size(), verdicts);
  size_t right = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const int expected = rows.y[i] - 1;  // Verdict::kBenign is -1
    const int got = verdicts[i].label == Verdict::kAnomaly ? Verdict::kBenign : verdicts[i].label;
    right += got == expected ? 1 : 0;
  }
  EXPECT_GE(right, rows.size() * 97 / 100);
}

TEST_F(MlBundleTest, ContributionsSumToTheMargin) {
  const auto model = LoadClassifier(dir_->str(), features::FeatureMode::kCorrected);
  const ngtrain::LabelledRows rows = netguard::testing::SyntheticRows(3, 42);
  const size_t d = model->num_features();
  for (size_t i = 0; i < rows.size(); ++i) {
    const float* row = &rows.x[i * d];
    for (bool gate : {true, false}) {
      const std::vector<float> margins = model->Margins(row, gate);
      const std::vector<float> c = model->Contributions(row, gate);
      ASSERT_EQ(c.size(), margins.size() * (d + 1));
      for (size_t g = 0; g < margins.size(); ++g) {
        double sum = 0;
        for (size_t j = 0; j <= d; ++j) sum += c[g * (d + 1) + j];  // features + bias
        EXPECT_NEAR(sum, margins[g], 1e-3) << "row " << i << " gate " << gate << " group " << g;
      }
    }
  }
}

TEST_F(MlBundleTest, DetectorEmitsClassTechniqueAndEvidence) {
  auto slot = std::make_shared<ModelSlot>(features::FeatureMode::kCorrected, dir_->str());
  slot->Load();
  MlDetector detector(slot, {});
  Collector sink;
  std::mt19937_64 rng(77);
  detector.OnFlowEnd(SyntheticFlow(FlowKind::kPortScan, rng), sink);
  detector.OnFlowEnd(SyntheticFlow(FlowKind::kBruteForce, rng), sink);
  for (int i = 0; i < 5; ++i) detector.OnFlowEnd(SyntheticFlow(FlowKind::kBenign, rng), sink);
  EXPECT_TRUE(sink.alerts.empty());  // batched until the sweep ends
  detector.Flush(sink);
  EXPECT_EQ(detector.classified(), 7u);
  ASSERT_EQ(sink.alerts.size(), 2u);
  EXPECT_EQ(sink.alerts[0].alert_class, "PortScan");
  EXPECT_EQ(sink.alerts[0].mitre_technique, "T1046");
  EXPECT_EQ(sink.alerts[1].alert_class, "BruteForce");
  EXPECT_EQ(sink.alerts[1].mitre_technique, "T1110");
  EXPECT_EQ(sink.alerts[1].dst_port, 22);
  EXPECT_EQ(sink.alerts[1].src_addr, "10.0.0.66");
  EXPECT_EQ(sink.alerts[1].detector, "ml.xgboost");
  EXPECT_GT(sink.alerts[1].score, 0.5);
  const nlohmann::json evidence = nlohmann::json::parse(sink.alerts[1].evidence_json);
  EXPECT_EQ(evidence["model"], "synthetic");
  ASSERT_EQ(evidence["top_features"].size(), 5u);
  EXPECT_TRUE(evidence["top_features"][0].contains("value"));
  EXPECT_GE(evidence["top_features"][0]["contribution"].get<double>(),
            evidence["top_features"][1]["contribution"].get<double>());
}

TEST_F(MlBundleTest, DetectorDoesNotJudgeConnectionRemnants) {
  auto slot = std::make_shared<ModelSlot>(features::FeatureMode::kCorrected, dir_->str());
  slot->Load();
  MlDetector detector(slot, {});
  Collector sink;
  detector.OnFlowEnd(netguard::testing::TcpFlow({NG_TCP_FIN | NG_TCP_ACK}), sink);
  detector.OnFlowEnd(netguard::testing::TcpFlow({NG_TCP_ACK}), sink);
  detector.OnFlowEnd(netguard::testing::TcpFlow({NG_TCP_SYN, NG_TCP_RST | NG_TCP_ACK}), sink);
  detector.Flush(sink);
  EXPECT_EQ(detector.classified(), 1u);
}

TEST_F(MlBundleTest, RepeatedAlertsAreCountedNotRepeated) {
  auto slot = std::make_shared<ModelSlot>(features::FeatureMode::kCorrected, dir_->str());
  slot->Load();
  MlDetector detector(slot, {.repeat_window = std::chrono::seconds(60)});
  Collector sink;
  std::mt19937_64 rng(5);
  for (int i = 0; i < 5; ++i) detector.OnFlowEnd(SyntheticFlow(FlowKind::kBruteForce, rng), sink);
  detector.Flush(sink);
  ASSERT_EQ(sink.alerts.size(), 1u);  // same source, destination and class
  EXPECT_EQ(detector.suppressed(), 4u);
  FlowRecord later = SyntheticFlow(FlowKind::kBruteForce, rng);
  later.end_ns += 61'000'000'000;  // past the window
  detector.OnFlowEnd(later, sink);
  detector.Flush(sink);
  ASSERT_EQ(sink.alerts.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(sink.alerts[1].evidence_json)["similar_flows"], 4);
}

// A denial-of-service class is counted per victim: flows of it from many (spoofed) sources to
// one destination raise one alert a window, not one per source.
TEST_F(MlBundleTest, DenialOfServiceIsCountedPerVictim) {
  ScratchDir copy("bundle_dos");
  const std::string dir = Copy(copy);
  EditManifest(dir, [](nlohmann::json& j) {
    for (auto& c : j["classes"])
      if (c["name"] == "BruteForce") c["mitre_technique"] = "T1499.002";
  });
  auto slot = std::make_shared<ModelSlot>(features::FeatureMode::kCorrected, dir);
  slot->Load();
  MlDetector detector(slot, {.repeat_window = std::chrono::seconds(60)});
  Collector sink;
  std::mt19937_64 rng(5);
  for (uint32_t i = 0; i < 20; ++i) {
    FlowRecord f = SyntheticFlow(FlowKind::kBruteForce, rng);
    uint32_t* src = f.acc.initiator == NG_SIDE_A ? f.key.addr_a : f.key.addr_b;
    src[0] = htonl(0xC6120000u + i);  // 198.18.0.0 + i
    detector.OnFlowEnd(f, sink);
  }
  // a port scan from one of them is still its own alert
  detector.OnFlowEnd(SyntheticFlow(FlowKind::kPortScan, rng), sink);
  detector.Flush(sink);
  ASSERT_EQ(sink.alerts.size(), 2u);
  EXPECT_EQ(sink.alerts[0].alert_class, "BruteForce");
  EXPECT_EQ(sink.alerts[0].mitre_technique, "T1499.002");
  EXPECT_EQ(sink.alerts[0].src_addr, "198.18.0.0");
  EXPECT_TRUE(sink.alerts[0].source_sampled);  // no evidence against 198.18.0.0 itself
  EXPECT_EQ(sink.alerts[1].alert_class, "PortScan");
  EXPECT_FALSE(sink.alerts[1].source_sampled);
  EXPECT_EQ(detector.suppressed(), 19u);
}

TEST_F(MlBundleTest, FarBenignFlowIsAnAnomaly) {
  const auto model = LoadClassifier(dir_->str(), features::FeatureMode::kCorrected);
  std::mt19937_64 rng(3);
  FlowRecord flow = SyntheticFlow(FlowKind::kBenign, rng);
  std::vector<float> row(model->num_features());
  features::FeatureVector v = features::ComputeFeatures(flow, features::FeatureMode::kCorrected);
  model->Gather(v, row.data());
  std::vector<Verdict> verdicts;
  model->Classify(row, 1, verdicts);
  EXPECT_EQ(verdicts[0].label, Verdict::kBenign);
  // Far from every benign centroid on every feature that varies
  for (size_t j = 0; j < row.size(); ++j) row[j] = row[j] * 1000 + 1e6f;
  model->Classify(row, 1, verdicts);
  if (verdicts[0].label == Verdict::kAnomaly) {
    EXPECT_GT(verdicts[0].score, 0);
    EXPECT_EQ(model->Explain(row.data(), verdicts[0], 3).size(), 3u);
  } else {
    EXPECT_GE(verdicts[0].label, 0);  // the gate took it for an attack instead
  }
  EXPECT_GT(model->Distance(row.data()), model->bundle().kmeans.threshold);
}

TEST_F(MlBundleTest, SlotKeepsTheActiveBundleWhenALoadFails) {
  ModelSlot slot(features::FeatureMode::kCorrected, dir_->str());
  EXPECT_EQ(slot.active(), nullptr);
  const auto first = slot.Load();
  ASSERT_NE(first, nullptr);
  EXPECT_THROW(slot.Load("/nonexistent/ngm"), BundleError);
  EXPECT_EQ(slot.active(), first);
  EXPECT_NE(slot.state().error.find("/nonexistent/ngm"), std::string::npos);
  const auto second = slot.Load(dir_->str());
  EXPECT_NE(second, first);
  EXPECT_EQ(slot.active(), second);
  EXPECT_TRUE(slot.state().error.empty());
  EXPECT_GT(slot.state().loaded_at_ns, 0);
}

// A bundle over one per-flow and one context feature, where only the context tells a scan probe
// from a flood packet: the detector must fill the context features itself (FlowContext, as the
// flows CSV does), or every probe would look the same.
TEST(MlContextTest, DetectorFillsTheContextFeatures) {
  Bundle b;
  b.name = "context";
  b.feature_mode = std::string(features::kModeCorrected);
  b.features = {"Total Fwd Packets", "Ctx Dst Svc Flows"};
  b.classes = {{.name = "PortScan", .mitre = "T1046"}, {.name = "DoS-Flood", .mitre = "T1498"}};
  b.provenance_json = R"({"data":"synthetic"})";
  auto rows = [](int n) {
    ngtrain::LabelledRows r;
    r.d = 2;
    for (int i = 0; i < n; ++i) {
      const float benign[] = {static_cast<float>(5 + i % 5), static_cast<float>(1 + i % 3)};
      const float probe[] = {1, static_cast<float>(1 + i % 2)};  // one to each service
      const float flood[] = {1, static_cast<float>(50 + i)};     // many to one service
      for (const float* x : {benign, probe, flood}) r.x.insert(r.x.end(), x, x + 2);
      r.y.insert(r.y.end(), {0, 1, 2});
    }
    return r;
  };
  ngtrain::TrainOptions o;
  o.rounds = 10;
  o.max_depth = 3;
  o.clusters = 2;
  ngtrain::Train(rows(200), rows(40), o, b);
  ScratchDir dir("context");
  WriteBundle(b, dir.str());
  auto slot = std::make_shared<ModelSlot>(features::FeatureMode::kCorrected, dir.str());
  slot->Load();
  MlDetector detector(slot, {.anomalies = false, .repeat_window = std::chrono::seconds(0)});
  Collector sink;
  // 100 single SYNs from one source to one service at the same instant: the k-th has k in its
  // context
  for (int i = 0; i < 100; ++i) detector.OnFlowEnd(netguard::testing::TcpFlow({NG_TCP_SYN}), sink);
  detector.Flush(sink);
  ASSERT_EQ(sink.alerts.size(), 100u);
  EXPECT_EQ(sink.alerts.front().alert_class, "PortScan");
  EXPECT_EQ(sink.alerts.back().alert_class, "DoS-Flood");
  EXPECT_EQ(sink.alerts.back().mitre_technique, "T1498");
}

}  // namespace
}  // namespace netguard::detect::ml
