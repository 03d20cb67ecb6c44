// The verifier must keep a wide margin below its 1M-instruction limit: a program near the limit
// stops loading after a small, unrelated change (and each load gets slow).
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "netguard.h"  // the skeleton names the shared structs
#include "netguard_bpf.skel.h"

namespace {

constexpr long kVerifierLimit = 1000000;
constexpr long kBudget = kVerifierLimit * 6 / 10;  // fail well before the kernel refuses

// Loads the programs with `end_flags` in the rodata config (the verifier prunes on it, so every
// lifecycle the agent can select is checked) and compares each program's count to the budget.
void ExpectWithinBudget(uint8_t end_flags) {
  const std::string pins = "/sys/fs/bpf/ngtest-verifier-" + std::to_string(getpid());
  std::filesystem::create_directories(pins);
  LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pins.c_str());
  netguard_bpf* skel = netguard_bpf__open_opts(&opts);
  ASSERT_NE(skel, nullptr);
  const_cast<ng_config&>(skel->rodata->ng_cfg).end_flags = end_flags;

  std::vector<std::vector<char>> logs;
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, skel->obj) {
    logs.emplace_back(1 << 16);
    bpf_program__set_log_level(prog, 4);  // BPF_LOG_STATS: "processed N insns ..."
    bpf_program__set_log_buf(prog, logs.back().data(), logs.back().size());
  }
  const int rc = netguard_bpf__load(skel);
  bpf_object__unpin_maps(skel->obj, nullptr);
  std::filesystem::remove_all(pins);
  ASSERT_EQ(rc, 0);

  size_t i = 0;
  const std::regex processed("processed ([0-9]+) insns");
  bpf_object__for_each_program(prog, skel->obj) {
    std::cmatch m;
    ASSERT_TRUE(std::regex_search(logs[i++].data(), m, processed)) << bpf_program__name(prog);
    const long insns = std::stol(m[1]);
    EXPECT_LT(insns, kBudget) << bpf_program__name(prog) << " verified " << insns
                              << " instructions; the kernel limit is " << kVerifierLimit;
    ::testing::Test::RecordProperty(bpf_program__name(prog), std::to_string(insns));
  }
  netguard_bpf__destroy(skel);
}

TEST(VerifierBudgetTest, EveryProgramVerifiesWithinBudget) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
  ExpectWithinBudget(NG_END_ON_FIN | NG_END_ON_RST);
}

// The cic2017 feature mode's lifecycle (features::LifecycleFor) and every end flag at once.
TEST(VerifierBudgetTest, Cic2017LifecycleVerifiesWithinBudget) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
  ExpectWithinBudget(NG_END_ON_FIN | NG_END_NOT_ON_FIRST | NG_END_NO_IDLE_ON_END);
  ExpectWithinBudget(NG_END_ON_FIN | NG_END_ON_RST | NG_END_NOT_ON_FIRST | NG_END_NO_IDLE_ON_END);
}

}  // namespace
