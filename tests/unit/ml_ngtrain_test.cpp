// ngtrain: CSV import (2017, V4 and agent layouts and their quirks), the label map, dataset
// assembly, determinism, and the CICIDS2017 quality report (skipped without ../shared/data).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "csv_import.h"
#include "dataset.h"
#include "detect/ml/xgb.h"
#include "features/features.h"
#include "label_map.h"
#include "trainer.h"
#include "unit/ml_test_util.h"

namespace netguard::ngtrain {
namespace {

using netguard::testing::ScratchDir;

std::string Write(const ScratchDir& dir, const std::string& name, const std::string& text) {
  const std::string path = (dir / name).string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

LabelMap ShippedMap() { return LabelMap::Load(NETGUARD_SOURCE_DIR "/models/label_map.yaml"); }

// A MachineLearningCVE-style file: leading spaces, Fwd Header Length twice, Infinity/NaN, CRLF
// and a cp1252 dash in a label.
TEST(CsvImportTest, ReadsCicids2017QuirksAndCp1252Labels) {
  ScratchDir dir("csv");
  const std::string path =
      Write(dir, "cve.csv",
            " Destination Port, Flow Duration, Fwd Header Length, Flow Bytes/s, Fwd Header "
            "Length, Label\r\n"
            "80,1000,40,Infinity,44,BENIGN\r\n"
            "443,5,20,NaN,24,Web Attack \x96 Brute Force\r\n"
            "22,7,,-Infinity,8,SSH-Patator\r\n");
  const CsvTable t = ReadFlowCsv(path);
  ASSERT_EQ(t.rows.size(), 3u);
  const size_t duration = *features::FeatureIndex("Flow Duration");
  const size_t bytes_s = *features::FeatureIndex("Flow Bytes/s");
  EXPECT_EQ(t.rows[0][0], 80);
  EXPECT_EQ(t.rows[0][duration], 1000);
  EXPECT_TRUE(std::isinf(t.rows[0][bytes_s]) && t.rows[0][bytes_s] > 0);
  EXPECT_TRUE(std::isnan(t.rows[1][bytes_s]));
  EXPECT_TRUE(std::isinf(t.rows[2][bytes_s]) && t.rows[2][bytes_s] < 0);
  EXPECT_EQ(t.rows[0][34], 40);            // first Fwd Header Length
  EXPECT_EQ(t.rows[0][55], 44);            // the duplicate is Fwd Header Length.1
  EXPECT_TRUE(std::isnan(t.rows[2][34]));  // empty: missing
  EXPECT_TRUE(t.present[34] && t.present[55] && t.present[1] && !t.present[2]);
  EXPECT_EQ(t.lines, (std::vector<size_t>{2, 3, 4}));
  EXPECT_EQ(ShippedMap().ClassOf(t.labels[1]), "WebAttack");
  EXPECT_EQ(ShippedMap().ClassOf(t.labels[2]), "BruteForce");
  // The model never sees Infinity: it is missing, as in the agent.
  EXPECT_TRUE(std::isnan(detect::ml::ToModelValue(t.rows[0][bytes_s])));
}

TEST(CsvImportTest, ReadsV4NamesAndLabelsAWholeFile) {
  ScratchDir dir("csv");
  const std::string path = Write(dir, "v4.csv",
                                 "Flow ID,Src IP,Dst Port,Tot Fwd Pkts,Fwd Header Len,Init Bwd "
                                 "Win Byts,Idle Min,Label\n"
                                 "x,10.0.0.1,22,3,60,29200,0.0,No Label\n");
  const CsvTable t = ReadFlowCsv(path, "ftp_patator");
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0][*features::FeatureIndex("Destination Port")], 22);
  EXPECT_EQ(t.rows[0][*features::FeatureIndex("Total Fwd Packets")], 3);
  EXPECT_EQ(t.rows[0][*features::FeatureIndex("Init_Win_bytes_backward")], 29200);
  EXPECT_EQ(t.rows[0][*features::FeatureIndex("Idle Min")], 0);
  EXPECT_EQ(t.rows[0][55], 60);  // no duplicate column: a copy, as the 2017 tool wrote it
  EXPECT_EQ(t.labels[0], "ftp_patator");
  // Every V4 name maps to a distinct feature.
  EXPECT_EQ(ColumnFeature("Flow Byts/s"), features::FeatureIndex("Flow Bytes/s"));
  EXPECT_EQ(ColumnFeature("Idle Min"), features::kCicFeatureCount - 1);
  EXPECT_EQ(ColumnFeature("Ctx Dst Svc Flows"), features::kFeatureCount - 1);
  EXPECT_EQ(ColumnFeature("Timestamp"), std::nullopt);
}

TEST(CsvImportTest, BadInputNamesFileLineAndColumn) {
  ScratchDir dir("csv");
  const auto error = [&](const std::string& text, const std::string& label = "") {
    try {
      ReadFlowCsv(Write(dir, "bad.csv", text), label);
    } catch (const CsvError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error("Flow Duration,Label\n5,BENIGN\nabc,BENIGN\n")
                .find("bad.csv:3: column 'Flow "
                      "Duration': 'abc' is not a "
                      "number"),
            std::string::npos);
  EXPECT_NE(error("Flow Duration,Label\n5\n").find("bad.csv:2: 1 fields, the header has 2"),
            std::string::npos);
  EXPECT_NE(error("Flow Duration\n5\n").find("bad.csv:1: no Label column"), std::string::npos);
  EXPECT_EQ(error("Flow Duration\n5\n", "BENIGN"), "no error");
  EXPECT_NE(error("Foo,Label\n5,BENIGN\n").find("no CICFlowMeter feature column"),
            std::string::npos);
  EXPECT_THROW(ReadFlowCsv((dir / "absent.csv").string()), CsvError);
}

TEST(LabelMapTest, MapsEveryDatasetSpellingToOneClassAndTechnique) {
  const LabelMap map = ShippedMap();
  EXPECT_EQ(NormaliseLabel("  Web Attack \x96   Sql Injection "), "web attack - sql injection");
  EXPECT_EQ(NormaliseLabel("Web Attack \xE2\x80\x93 XSS"), "web attack - xss");
  for (const char* raw : {"DoS Hulk", "DDoS", "DoS GoldenEye", "DoS", "DoS attacks-Hulk"}) {
    EXPECT_EQ(map.ClassOf(raw), "DoS-Flood") << raw;
  }
  EXPECT_EQ(map.ClassOf("DoS slowloris"), "DoS-SlowHTTP");
  EXPECT_EQ(map.ClassOf("FTP-Patator"), "BruteForce");
  EXPECT_EQ(map.ClassOf("Web Attack \x96 Brute Force"), "WebAttack");  // cp1252
  EXPECT_EQ(map.ClassOf("benign"), "BENIGN");
  EXPECT_EQ(map.ClassOf("Infiltration"), "");  // dropped, documented in docs/models.md
  EXPECT_EQ(map.ClassOf("Heartbleed"), "");
  EXPECT_EQ(map.ClassOf("Bot"), "Bot");
  EXPECT_EQ(map.ClassOf("Something else"), std::nullopt);
  EXPECT_EQ(map.Technique("PortScan"), "T1046");
  EXPECT_EQ(map.Technique("DoS-Flood"), "T1498");
  EXPECT_EQ(map.Technique("DoS-SlowHTTP"), "T1499");
  EXPECT_EQ(map.Technique("BruteForce"), "T1110");
  EXPECT_EQ(map.Technique("WebAttack"), "T1190");
  EXPECT_EQ(map.Technique("DNSTunnel"), "T1071.004");
  EXPECT_EQ(map.classes().front(), "BENIGN");
}

TEST(LabelMapTest, ErrorsNameTheLine) {
  const auto error = [](const std::string& yaml) {
    try {
      LabelMap::Parse(yaml, "map.yaml");
    } catch (const LabelMapError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error("classes:\n  BENIGN: \"\"\n  PortScan: T1046\nlabels:\n  nmap: Scan\n"),
            "map.yaml:5: labels.nmap: class 'Scan' is not under classes");
  EXPECT_NE(error("classes:\n  PortScan: T1046\nlabels: {}\n").find("BENIGN must be the first"),
            std::string::npos);
  EXPECT_NE(error("classes: [\n").find("map.yaml:"), std::string::npos);
}

TEST(DatasetTest, UnknownLabelNamesFileAndLine) {
  ScratchDir dir("ds");
  const std::string path =
      Write(dir, "a.csv", "Flow Duration,Label\n1,BENIGN\n2,PortScan\n3,Mystery\n");
  try {
    Assemble({ReadFlowCsv(path)}, ShippedMap(), {});
    FAIL() << "no error";
  } catch (const CsvError& e) {
    EXPECT_NE(std::string(e.what()).find("a.csv:4: unknown label 'Mystery'"), std::string::npos);
  }
}

TEST(DatasetTest, KeepsCommonFeaturesAndDropsSmallClasses) {
  ScratchDir dir("ds");
  std::string a = "Flow Duration,Total Fwd Packets,Label\n", b = "Flow Duration,Label\n";
  for (int i = 0; i < 12; ++i) {
    a += std::to_string(i) + ",1,BENIGN\n" + std::to_string(i) + ",2,PortScan\n";
    b += std::to_string(i) + ",DoS Hulk\n";
  }
  b += "1,SSH-Patator\n";
  const Dataset ds = Assemble(
      {ReadFlowCsv(Write(dir, "a.csv", a)), ReadFlowCsv(Write(dir, "b.csv", b))}, ShippedMap(), {});
  EXPECT_EQ(ds.features, (std::vector<std::string>{"Flow Duration"}));
  EXPECT_EQ(ds.classes, (std::vector<std::string>{"PortScan", "DoS-Flood"}));
  EXPECT_EQ(ds.rows.size(), 36u);
  EXPECT_EQ(ds.dropped.size(), 1u);  // BruteForce under 10 rows
}

TEST(RemnantTest, OnlyAckedFinAckRstFlowsWithoutSynOrPayload) {
  using features::FeatureMode;
  const auto remnant = [](const std::vector<uint8_t>& flags, uint32_t payload = 0,
                          FeatureMode mode = FeatureMode::kCorrected) {
    return features::IsConnectionRemnant(
        features::ComputeFeatures(netguard::testing::TcpFlow(flags, payload), mode), mode);
  };
  constexpr uint8_t kFinAck = NG_TCP_FIN | NG_TCP_ACK, kRstAck = NG_TCP_RST | NG_TCP_ACK;
  EXPECT_TRUE(remnant({kFinAck}));     // the peer's FIN after the flow ended
  EXPECT_TRUE(remnant({NG_TCP_ACK}));  // the last ACK
  EXPECT_TRUE(remnant({kFinAck, NG_TCP_ACK}));
  EXPECT_TRUE(remnant({kRstAck}));      // a closed port's answer to a FIN probe
  EXPECT_FALSE(remnant({NG_TCP_FIN}));  // the FIN probe itself
  EXPECT_FALSE(remnant({NG_TCP_FIN | NG_TCP_PSH | NG_TCP_URG}));  // Xmas
  EXPECT_FALSE(remnant({NG_TCP_SYN, kRstAck}));
  EXPECT_FALSE(remnant({NG_TCP_ACK}, 100));  // data
  EXPECT_FALSE(remnant({NG_TCP_ACK, NG_TCP_ACK, kFinAck}));
  EXPECT_FALSE(remnant({kFinAck}, 0, FeatureMode::kCic2017));
}

TEST(DatasetTest, DropsConnectionRemnantsInCorrectedMode) {
  ScratchDir dir("ds");
  std::string csv =
      "Total Fwd Packets,Total Backward Packets,Total Length of Fwd Packets,"
      "Total Length of Bwd Packets,SYN Flag Count,PSH Flag Count,ACK Flag Count,URG Flag Count,"
      "CWE Flag Count,ECE Flag Count,Label\n";
  for (int i = 0; i < 10; ++i) {
    csv += "1,0,0,0,0,0,1,0,0,0,BENIGN\n";    // a last ACK: remnant
    csv += "1,1,0,0,1,0,1,0,0,0,PortScan\n";  // SYN, RST|ACK
    csv += "1,0,0,0,0,0,1,0,0,0,PortScan\n";  // remnant
    csv += "3,2,90,900,1,2,4,0,0,0,BENIGN\n";
    csv += "1,0,40,0,1,0,0,0,0,0,DoS Hulk\n";
  }
  const CsvTable table = ReadFlowCsv(Write(dir, "a.csv", csv));
  AssembleOptions options;
  options.mode = features::FeatureMode::kCorrected;
  const Dataset corrected = Assemble({table}, ShippedMap(), options);
  EXPECT_EQ(corrected.rows.size(), 30u);
  EXPECT_EQ(corrected.dropped.at("BENIGN (connection remnants)"), 10u);
  EXPECT_EQ(corrected.dropped.at("PortScan (connection remnants)"), 10u);
  EXPECT_EQ(Assemble({table}, ShippedMap(), {}).rows.size(), 50u);  // cic2017 keeps them
}

TEST(TrainTest, SameSeedGivesIdenticalModelFiles) {
  const detect::ml::Bundle a = netguard::testing::TrainSynthetic(5);
  const detect::ml::Bundle b = netguard::testing::TrainSynthetic(5);
  ScratchDir da("det"), db("det");
  detect::ml::Bundle wa = a, wb = b;
  detect::ml::WriteBundle(wa, da.str());
  detect::ml::WriteBundle(wb, db.str());
  for (const char* file : {"gate.ubj", "multiclass.ubj", "centroids.json", "bundle.json"}) {
    std::ifstream fa(da / file, std::ios::binary), fb(db / file, std::ios::binary);
    const std::string ta{std::istreambuf_iterator<char>(fa), {}};
    const std::string tb{std::istreambuf_iterator<char>(fb), {}};
    EXPECT_FALSE(ta.empty()) << file;
    EXPECT_EQ(ta, tb) << file;
  }
  EXPECT_EQ(wa.checksum, wb.checksum);
}

TEST(TrainTest, StratifiedSplitKeepsEveryLabel) {
  LabelledRows all;
  all.d = 1;
  for (int i = 0; i < 100; ++i) {
    all.x.push_back(static_cast<float>(i));
    all.y.push_back(i < 90 ? 0 : i < 98 ? 1 : 2);
  }
  LabelledRows first, second;
  StratifiedSplit(all, 0.2, 3, first, second);
  std::map<int, int> count;
  for (int y : second.y) count[y]++;
  EXPECT_EQ(count[0], 18);
  EXPECT_EQ(count[1], 2);
  EXPECT_EQ(count[2], 1);  // a label with two rows still reaches both sides
  EXPECT_EQ(first.size() + second.size(), 100u);
}

TEST(TrainTest, SplitByGroupKeepsGroupsWholeAndStratified) {
  LabelledRows all;
  all.d = 1;
  // 10 benign runs and 5 attack runs of label 1 (each with benign background rows), 10 rows each
  for (uint32_t g = 0; g < 15; ++g) {
    for (int i = 0; i < 10; ++i) {
      all.x.push_back(static_cast<float>(g));
      all.y.push_back(g >= 10 && i < 7 ? 1 : 0);
      all.group.push_back(g);
    }
  }
  LabelledRows first, second;
  StratifiedSplit(all, 0.2, 3, first, second, true);
  std::set<uint32_t> in_first(first.group.begin(), first.group.end());
  std::set<uint32_t> in_second(second.group.begin(), second.group.end());
  EXPECT_EQ(in_second.size(), 3u);  // 2 of the 10 benign runs, 1 of the 5 attack runs
  EXPECT_EQ(std::count_if(in_second.begin(), in_second.end(), [](uint32_t g) { return g >= 10; }),
            1);
  for (uint32_t g : in_second) EXPECT_FALSE(in_first.contains(g));
  EXPECT_EQ(first.size() + second.size(), 150u);
  EXPECT_EQ(first.group.size(), first.size());
}

// The quality report of docs/models.md: the 7-class CICIDS2017 sample, stratified 80/20 with
// seed 7, default parameters.
TEST(Cicids2017QualityTest, MacroF1OnTheStratifiedSample) {
  const std::string path =
      NETGUARD_SOURCE_DIR "/../shared/data/cicids2017/CICIDS2017_sample_subsampled_7class.csv";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " absent (../shared/data)";
  const Dataset ds = Assemble({ReadFlowCsv(path)}, ShippedMap(), {});
  LabelledRows fit, test;
  TrainOptions o;
  o.seed = 7;
  StratifiedSplit(ds.rows, 0.2, o.seed, fit, test);
  detect::ml::Bundle b;
  b.name = "cicids2017";
  b.feature_mode = std::string(features::kModeCic2017);
  b.features = ds.features;
  for (const std::string& c : ds.classes) b.classes.push_back({.name = c, .mitre = ""});
  Train(fit, test, o, b);
  std::string report = "BENIGN f1 " + std::to_string(b.metrics.benign_f1);
  for (const auto& c : b.classes) {
    report += ", " + c.name + " f1 " + std::to_string(c.f1);
    EXPECT_GE(c.f1, 0.97) << c.name;
  }
  std::cout << report << "; macro-F1 " << b.metrics.macro_f1 << "\n";
  EXPECT_GE(b.metrics.macro_f1, 0.95);
}

}  // namespace
}  // namespace netguard::ngtrain
