// The model RPCs (GetModel, ReloadModel) and `ngctl model` against a real ApiServer with a
// ModelSlot holding a tiny trained bundle.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "detect/ml/model_slot.h"
#include "unit/api_harness.h"
#include "unit/ml_test_util.h"

namespace netguard::testing {
namespace {

class ApiModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    bundle_ = new ScratchDir("api_model");
    detect::ml::Bundle b = TrainSynthetic(21);
    detect::ml::WriteBundle(b, bundle_->str());
  }
  static void TearDownTestSuite() { delete bundle_; }
  std::vector<std::string> Args(const ApiHarness& h, std::vector<std::string> args) {
    args.insert(args.begin(), {"--socket", h.socket_path()});
    return args;
  }
  static inline ScratchDir* bundle_ = nullptr;
};

TEST_F(ApiModelTest, DisabledModelSaysSo) {
  ApiHarness h;
  grpc::ClientContext ctx;
  v1::ModelInfo info;
  ASSERT_TRUE(h.Stub()->GetModel(&ctx, v1::GetModelRequest(), &info).ok());
  EXPECT_FALSE(info.loaded());
  EXPECT_NE(info.error().find("model.enabled: false"), std::string::npos);
  grpc::ClientContext ctx2;
  EXPECT_EQ(h.Stub()->ReloadModel(&ctx2, v1::ReloadModelRequest(), &info).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(ApiModelTest, ReloadSwapsInABundleAndRefusesABadOne) {
  auto slot = std::make_shared<detect::ml::ModelSlot>(features::FeatureMode::kCorrected,
                                                      "/nonexistent/ngm_default");
  ApiHarness h({.models = slot});
  {
    grpc::ClientContext ctx;
    v1::ModelInfo info;
    ASSERT_TRUE(h.Stub()->GetModel(&ctx, v1::GetModelRequest(), &info).ok());
    EXPECT_FALSE(info.loaded());
    EXPECT_EQ(info.path(), "/nonexistent/ngm_default");
  }
  {
    grpc::ClientContext ctx;
    v1::ModelInfo info;
    const grpc::Status s = h.Stub()->ReloadModel(&ctx, v1::ReloadModelRequest(), &info);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(s.error_message().find("/nonexistent/ngm_default: not a bundle directory"),
              std::string::npos);
  }
  v1::ReloadModelRequest request;
  request.set_path(bundle_->str());
  grpc::ClientContext ctx;
  v1::ModelInfo info;
  ASSERT_TRUE(h.Stub()->ReloadModel(&ctx, request, &info).ok());
  EXPECT_TRUE(info.loaded());
  EXPECT_EQ(info.name(), "synthetic");
  EXPECT_EQ(info.feature_mode(), "corrected");
  EXPECT_EQ(info.features_size(), 78);
  ASSERT_EQ(info.classes_size(), 3);  // BENIGN + the two attack classes
  EXPECT_EQ(info.classes(1).name(), "PortScan");
  EXPECT_EQ(info.classes(1).mitre_technique(), "T1046");
  EXPECT_EQ(info.labels_size(), 3);
  EXPECT_EQ(info.confusion_size(), 9);
  EXPECT_GT(info.macro_f1(), 0.9);
  EXPECT_GT(info.anomaly_threshold(), 0);
  EXPECT_TRUE(info.has_loaded_at());
  EXPECT_EQ(nlohmann::json::parse(info.provenance_json())["data"], "synthetic");
  EXPECT_EQ(slot->active()->bundle().name, "synthetic");
}

TEST_F(ApiModelTest, NgctlModelShowAndReload) {
  auto slot =
      std::make_shared<detect::ml::ModelSlot>(features::FeatureMode::kCorrected, bundle_->str());
  ApiHarness h({.models = slot});
  CommandResult r = RunNgctl(Args(h, {"model"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("no model bundle loaded"), std::string::npos) << r.out;

  r = RunNgctl(Args(h, {"model", "reload", "/nonexistent/ngm_x"}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/ngm_x: not a bundle directory"), std::string::npos) << r.err;

  r = RunNgctl(Args(h, {"model", "reload"}));  // the configured path
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("model            synthetic"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("BruteForce"), std::string::npos);
  EXPECT_NE(r.out.find("T1110"), std::string::npos);

  r = RunNgctl(Args(h, {"model", "show", "-o", "json"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["name"], "synthetic");
  EXPECT_EQ(j["classes"].size(), 3u);

  r = RunNgctl(Args(h, {"model", "-o", "wide"}));
  EXPECT_NE(r.out.find("confusion (rows: true class"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace netguard::testing
