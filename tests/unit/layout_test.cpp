// Every struct shared with the kernel has the same size and member offsets in C++ as in the BTF
// of the compiled BPF object. Opens the object embedded in the skeleton without loading it, so
// no privileges are needed.
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "netguard.h"
#include "netguard_bpf.skel.h"

namespace netguard {
namespace {

struct Member {
  const char* name;
  size_t offset;
};

struct Layout {
  const char* name;
  size_t size;
  std::vector<Member> members;
};

#define NG_MEMBER(type, field) \
  Member { #field, offsetof(type, field) }

std::vector<Layout> SharedLayouts() {
  return {
      {"ng_flow_key",
       sizeof(ng_flow_key),
       {NG_MEMBER(ng_flow_key, addr_a), NG_MEMBER(ng_flow_key, addr_b),
        NG_MEMBER(ng_flow_key, port_a), NG_MEMBER(ng_flow_key, port_b),
        NG_MEMBER(ng_flow_key, vlan_id), NG_MEMBER(ng_flow_key, family),
        NG_MEMBER(ng_flow_key, proto)}},
      {"ng_running",
       sizeof(ng_running),
       {NG_MEMBER(ng_running, count), NG_MEMBER(ng_running, sum), NG_MEMBER(ng_running, sum_sq),
        NG_MEMBER(ng_running, min), NG_MEMBER(ng_running, max)}},
      {"ng_dir_stats",
       sizeof(ng_dir_stats),
       {NG_MEMBER(ng_dir_stats, payload), NG_MEMBER(ng_dir_stats, iat),
        NG_MEMBER(ng_dir_stats, wire_bytes), NG_MEMBER(ng_dir_stats, l3_hdr_bytes),
        NG_MEMBER(ng_dir_stats, l4_hdr_bytes), NG_MEMBER(ng_dir_stats, last_us),
        NG_MEMBER(ng_dir_stats, flag_counts), NG_MEMBER(ng_dir_stats, data_pkts),
        NG_MEMBER(ng_dir_stats, l4_hdr_min), NG_MEMBER(ng_dir_stats, init_win),
        NG_MEMBER(ng_dir_stats, last_win), NG_MEMBER(ng_dir_stats, pad)}},
      {"ng_flow",
       sizeof(ng_flow),
       {NG_MEMBER(ng_flow, dir), NG_MEMBER(ng_flow, iat), NG_MEMBER(ng_flow, active),
        NG_MEMBER(ng_flow, idle), NG_MEMBER(ng_flow, first_ts_ns), NG_MEMBER(ng_flow, last_ts_ns),
        NG_MEMBER(ng_flow, active_start_us), NG_MEMBER(ng_flow, first_payload_len),
        NG_MEMBER(ng_flow, initiator), NG_MEMBER(ng_flow, first_tcp_flags),
        NG_MEMBER(ng_flow, state), NG_MEMBER(ng_flow, pad)}},
      {"ng_lpm_v4",
       sizeof(ng_lpm_v4),
       {NG_MEMBER(ng_lpm_v4, prefixlen), NG_MEMBER(ng_lpm_v4, addr)}},
      {"ng_lpm_v6",
       sizeof(ng_lpm_v6),
       {NG_MEMBER(ng_lpm_v6, prefixlen), NG_MEMBER(ng_lpm_v6, addr)}},
      {"ng_block_counters",
       sizeof(ng_block_counters),
       {NG_MEMBER(ng_block_counters, packets), NG_MEMBER(ng_block_counters, bytes)}},
      {"ng_record_hdr",
       sizeof(ng_record_hdr),
       {NG_MEMBER(ng_record_hdr, type), NG_MEMBER(ng_record_hdr, hook),
        NG_MEMBER(ng_record_hdr, reason), NG_MEMBER(ng_record_hdr, ifindex),
        NG_MEMBER(ng_record_hdr, ts_ns)}},
      {"ng_flow_event",
       sizeof(ng_flow_event),
       {NG_MEMBER(ng_flow_event, hdr), NG_MEMBER(ng_flow_event, key),
        NG_MEMBER(ng_flow_event, flow)}},
      {"ng_packet_sample",
       sizeof(ng_packet_sample),
       {NG_MEMBER(ng_packet_sample, hdr), NG_MEMBER(ng_packet_sample, key),
        NG_MEMBER(ng_packet_sample, wire_len), NG_MEMBER(ng_packet_sample, cap_len),
        NG_MEMBER(ng_packet_sample, side), NG_MEMBER(ng_packet_sample, pad),
        NG_MEMBER(ng_packet_sample, data)}},
      {"ng_config",
       sizeof(ng_config),
       {NG_MEMBER(ng_config, activity_timeout_us), NG_MEMBER(ng_config, active_timeout_ns),
        NG_MEMBER(ng_config, sample_first_n), NG_MEMBER(ng_config, sample_every_k),
        NG_MEMBER(ng_config, end_flags), NG_MEMBER(ng_config, sample_dns),
        NG_MEMBER(ng_config, sample_arp), NG_MEMBER(ng_config, ts_from_meta),
        NG_MEMBER(ng_config, pad)}},
  };
}

#undef NG_MEMBER

class LayoutTest : public ::testing::TestWithParam<Layout> {
 protected:
  static void SetUpTestSuite() {
    size_t size = 0;
    const void* elf = netguard_bpf__elf_bytes(&size);
    object_ = bpf_object__open_mem(elf, size, nullptr);
    ASSERT_NE(object_, nullptr) << "bpf_object__open_mem: " << libbpf_get_error(object_);
    btf_ = bpf_object__btf(object_);
    ASSERT_NE(btf_, nullptr) << "the BPF object has no BTF";
  }
  static void TearDownTestSuite() {
    bpf_object__close(object_);
    object_ = nullptr;
    btf_ = nullptr;
  }

  static bpf_object* object_;
  static const btf* btf_;
};

bpf_object* LayoutTest::object_ = nullptr;
const btf* LayoutTest::btf_ = nullptr;

TEST_P(LayoutTest, SizeAndOffsetsMatchBtf) {
  ASSERT_NE(btf_, nullptr);
  const Layout& layout = GetParam();
  const int id = btf__find_by_name_kind(btf_, layout.name, BTF_KIND_STRUCT);
  ASSERT_GT(id, 0) << "struct " << layout.name << " is not in the object's BTF";
  const btf_type* type = btf__type_by_id(btf_, static_cast<__u32>(id));
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type->size, layout.size) << "sizeof(struct " << layout.name << ")";

  const btf_member* members = btf_members(type);
  const int count = btf_vlen(type);
  // Every C++ member exists in BTF at the same offset, and BTF has no member C++ lacks.
  EXPECT_EQ(static_cast<size_t>(count), layout.members.size()) << "member count";
  for (const Member& want : layout.members) {
    bool found = false;
    for (int i = 0; i < count; ++i) {
      if (std::string(btf__name_by_offset(btf_, members[i].name_off)) != want.name) continue;
      found = true;
      EXPECT_EQ(btf_member_bitfield_size(type, static_cast<__u32>(i)), 0u) << want.name;
      const __u32 bit_offset = btf_member_bit_offset(type, static_cast<__u32>(i));
      EXPECT_EQ(bit_offset % 8, 0u) << want.name;
      EXPECT_EQ(bit_offset / 8, want.offset) << layout.name << "." << want.name;
    }
    EXPECT_TRUE(found) << layout.name << "." << want.name << " is not in BTF";
  }
}

INSTANTIATE_TEST_SUITE_P(Shared, LayoutTest, ::testing::ValuesIn(SharedLayouts()),
                         [](const ::testing::TestParamInfo<Layout>& info) {
                           return std::string(info.param.name);
                         });

// The sizes the header documents.
TEST(LayoutSizes, DocumentedSizes) {
  EXPECT_EQ(sizeof(ng_flow_key), 40u);
  EXPECT_EQ(sizeof(ng_dir_stats), 160u);
  EXPECT_EQ(sizeof(ng_flow), 472u);
  EXPECT_EQ(sizeof(ng_lock_stripe), 64u);
}

}  // namespace
}  // namespace netguard
