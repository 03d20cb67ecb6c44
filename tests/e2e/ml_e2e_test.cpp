// End to end: netguardd with the shipped model bundle (models/default) on the sensor's veth.
//
//   (1) at start the bundle is loaded: `ngctl status` reports it as active_model and `ngctl
//       model` shows its classes with their MITRE techniques;
//   (2) an nmap SYN scan from the peer namespace (the port-scan rule is off) raises an ML
//       PortScan alert (ml.xgboost, T1046) with SHAP evidence, one per source and destination
//       (the repeat window), counting the probes after it;
//   (3) SIGHUP with model.path naming a missing directory: the error is logged, the active
//       bundle stays; `ngctl model reload` of the shipped bundle succeeds again.
// Every wait has a deadline; on failure the daemon log is printed.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon_fixture.h"

namespace netguard::e2e {
namespace {

using nlohmann::json;

constexpr milliseconds kAlertVisible{15000};  // probes -> flows end -> sweep -> batch -> store
constexpr milliseconds kLogged{5000};
const std::string kBundle = NETGUARD_SOURCE_DIR "/models/default";

std::string Config(const std::string& model_path) {
  return "flows:\n  idle_timeout: 2s\n  sweep_interval: 200ms\nport_scan:\n  enabled: false\n"
         "model:\n  enabled: true\n  path: " +
         model_path + "\n";
}

class MlE2eTest : public DaemonE2eTest {
 protected:
  MlE2eTest() : DaemonE2eTest("ml", {"nmap"}) {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(DaemonE2eTest::SetUp());
    if (IsSkipped()) return;
    ASSERT_NO_FATAL_FAILURE(WriteConfig(Config(kBundle)));
  }
};

TEST_F(MlE2eTest, ShippedBundleFlagsAScanAndSurvivesABadReload) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  {
    SCOPED_TRACE("(1) the bundle is active");
    const CtlResult status = Ctl({"status"});
    ASSERT_EQ(status.code, 0) << status.output;
    EXPECT_EQ(Str(status.objects.at(0), "activeModel").rfind("default (", 0), 0u) << status.output;
    const CtlResult model = Ctl({"model"});
    ASSERT_EQ(model.code, 0) << model.output;
    const json& info = model.objects.at(0);
    EXPECT_TRUE(info.value("loaded", false));
    EXPECT_EQ(Str(info, "featureMode"), "corrected");
    bool port_scan = false;
    for (const json& c : info.value("classes", json::array())) {
      port_scan |= Str(c, "name") == "PortScan" && Str(c, "mitreTechnique") == "T1046";
    }
    EXPECT_TRUE(port_scan) << model.output;
  }
  {
    SCOPED_TRACE("(2) an nmap SYN scan is an ML PortScan alert");
    std::string nmap_out;
    ASSERT_EQ(NmapSynScan(lab_->peer_ip_a(), "1-200", &nmap_out), 0) << nmap_out;
    CtlResult alerts;
    WaitFor(
        [&] {
          alerts = Ctl({"alerts", "--src", lab_->peer_ip_a(), "--class", "PortScan"});
          return alerts.code == 0 && !alerts.objects.empty();
        },
        kAlertVisible, milliseconds(200));
    ASSERT_EQ(alerts.code, 0) << alerts.output;
    ASSERT_EQ(alerts.objects.size(), 1u) << "one alert per source, destination and class:\n"
                                         << alerts.output;
    const json& alert = alerts.objects[0];
    EXPECT_EQ(Str(alert, "detector"), "ml.xgboost");
    EXPECT_EQ(Str(alert, "mitreTechnique"), "T1046");
    EXPECT_EQ(Str(alert, "dstAddr"), lab_->sensor_ip());
    const json evidence = json::parse(Str(alert, "evidenceJson"), nullptr, false);
    EXPECT_EQ(evidence.value("model", ""), "default") << evidence.dump();
    EXPECT_FALSE(evidence.value("top_features", json::array()).empty()) << evidence.dump();
  }
  {
    SCOPED_TRACE("(3) a bad bundle path on SIGHUP keeps the active bundle");
    ASSERT_NO_FATAL_FAILURE(WriteConfig(Config(state_ + "/no-such-bundle")));
    const std::string kept = "SIGHUP: model bundle not loaded, keeping the active bundle";
    daemon_->Signal(SIGHUP);
    ASSERT_TRUE(WaitForLog(kept, 1, kLogged)) << "no \"" << kept << "\" in the log";
    EXPECT_TRUE(WaitForLog("no-such-bundle: not a bundle directory", 1, kLogged));
    const CtlResult model = Ctl({"model"});
    ASSERT_EQ(model.code, 0) << model.output;
    EXPECT_TRUE(model.objects.at(0).value("loaded", false));
    EXPECT_NE(Str(model.objects.at(0), "error").find("no-such-bundle"), std::string::npos);
    const CtlResult reload = Ctl({"model", "reload", kBundle});
    ASSERT_EQ(reload.code, 0) << reload.output;
    EXPECT_EQ(Str(reload.objects.at(0), "error"), "");
  }
  ASSERT_NO_FATAL_FAILURE(StopDaemon());
}

}  // namespace
}  // namespace netguard::e2e
