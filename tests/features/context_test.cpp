// FlowContext: the context features (counts of flows finished around a flow that share its
// source, source and destination, destination, or destination service) over the 2 s window.
#include "features/context.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace netguard::features {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kT0 = 1'700'000'000 * kSecond;
constexpr uint8_t kTcp = 6, kUdp = 17;

// A finished flow from src:40000 to dst:dport whose last packet is at end_ns; `responder_is_a`
// puts the responder on side A of the key (the initiator is then side B).
FlowRecord Flow(const char* src, const char* dst, uint16_t dport, uint8_t proto, int64_t end_ns,
                bool responder_is_a = false) {
  FlowRecord f;
  f.key.family = NG_FAMILY_IPV4;
  f.key.proto = proto;
  uint32_t s = 0, d = 0;
  inet_pton(AF_INET, src, &s);
  inet_pton(AF_INET, dst, &d);
  f.key.addr_a[0] = responder_is_a ? d : s;
  f.key.addr_b[0] = responder_is_a ? s : d;
  f.key.port_a = responder_is_a ? dport : 40000;
  f.key.port_b = responder_is_a ? 40000 : dport;
  f.acc.initiator = responder_is_a ? NG_SIDE_B : NG_SIDE_A;
  f.start_ns = end_ns;
  f.end_ns = end_ns;
  return f;
}

struct Counts {
  double src, src_dst, dst, dst_svc;
};
Counts Observe(FlowContext& c, const FlowRecord& f) {
  FeatureVector v{};
  c.Observe(f, v);
  return {v[kContextFirst], v[kContextFirst + 1], v[kContextFirst + 2], v[kContextFirst + 3]};
}

bool operator==(const Counts& a, const Counts& b) {
  return a.src == b.src && a.src_dst == b.src_dst && a.dst == b.dst && a.dst_svc == b.dst_svc;
}
void PrintTo(const Counts& c, std::ostream* os) {
  *os << "{src " << c.src << ", src_dst " << c.src_dst << ", dst " << c.dst << ", dst_svc "
      << c.dst_svc << "}";
}

// The brute-force tests' random numbers (a 64-bit LCG's high bits), the same on every run.
struct Lcg {
  uint64_t state;
  uint32_t operator()() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(state >> 33);
  }
};

// A flow of the brute-force tests: source, destination and service numbers, when it finished
// and its last packet.
struct Ended {
  uint32_t s, d, p;
  int64_t finished, end;
};
// The counts of `f`, the last of `ended`, from every flow finished before it (itself included)
// whose last packet lies in the 2 s before its own.
Counts BruteForce(const std::vector<Ended>& ended, const Ended& f) {
  Counts want{};
  for (size_t j = ended.size(); j-- > 0 && ended[j].finished >= f.end - 2 * kSecond;) {
    const Ended& o = ended[j];
    if (o.end < f.end - 2 * kSecond || o.end > f.end) continue;
    want.src += o.s == f.s;
    want.src_dst += o.s == f.s && o.d == f.d;
    want.dst += o.d == f.d;
    want.dst_svc += o.d == f.d && o.p == f.p;
  }
  return want;
}

TEST(FlowContextTest, NamesFollowThePerFlowFeatures) {
  EXPECT_EQ(FeatureNames()[kContextFirst], "Ctx Src Flows");
  EXPECT_EQ(FeatureNames()[kContextFirst + 1], "Ctx Src Dst Flows");
  EXPECT_EQ(FeatureNames()[kContextFirst + 2], "Ctx Dst Flows");
  EXPECT_EQ(FeatureNames()[kContextFirst + 3], "Ctx Dst Svc Flows");
  EXPECT_TRUE(IsIntegerFeature(kContextFirst));
  // ComputeFeatures alone does not know them.
  FlowRecord f = Flow("10.0.0.1", "10.0.0.2", 80, kTcp, kT0);
  f.acc.dir[NG_DIR_FWD].payload.count = 1;
  EXPECT_TRUE(std::isnan(ComputeFeatures(f, FeatureMode::kCorrected)[kContextFirst]));
}

TEST(FlowContextTest, ScanAndSpoofedFloodDifferInContext) {
  FlowContext scan;
  Counts last{};
  // one scanner, one probe per port, 100 ms apart: many flows from the source, one per service
  for (int i = 0; i < 10; ++i) {
    last = Observe(scan, Flow("10.0.0.66", "10.0.0.10", static_cast<uint16_t>(1000 + i), kTcp,
                              kT0 + i * kSecond / 10));
  }
  EXPECT_EQ(last.src, 10);
  EXPECT_EQ(last.src_dst, 10);
  EXPECT_EQ(last.dst, 10);
  EXPECT_EQ(last.dst_svc, 1);

  FlowContext flood;
  // random sources, one port: one flow per source, many to the service
  for (int i = 0; i < 10; ++i) {
    const std::string src = "198.18.0." + std::to_string(i + 1);
    last = Observe(flood, Flow(src.c_str(), "10.0.0.10", 80, kTcp, kT0 + i * 1000));
  }
  EXPECT_EQ(last.src, 1);
  EXPECT_EQ(last.src_dst, 1);
  EXPECT_EQ(last.dst, 10);
  EXPECT_EQ(last.dst_svc, 10);
  // the same port over UDP is another service
  last = Observe(flood, Flow("198.18.0.1", "10.0.0.10", 80, kUdp, kT0 + 20000));
  EXPECT_EQ(last.src, 2);
  EXPECT_EQ(last.dst, 11);
  EXPECT_EQ(last.dst_svc, 1);
}

TEST(FlowContextTest, DirectionComesFromTheInitiatorNotTheKeyOrder) {
  FlowContext c;
  Observe(c, Flow("10.0.0.1", "10.0.0.2", 22, kTcp, kT0));
  const Counts other_side = Observe(c, Flow("10.0.0.1", "10.0.0.2", 22, kTcp, kT0 + 1, true));
  EXPECT_EQ(other_side.src, 2);
  EXPECT_EQ(other_side.dst_svc, 2);
  // the responder initiating is another source
  const Counts reverse = Observe(c, Flow("10.0.0.2", "10.0.0.1", 22, kTcp, kT0 + 2));
  EXPECT_EQ(reverse.src, 1);
  EXPECT_EQ(reverse.dst, 1);
}

TEST(FlowContextTest, WindowIsTwoSecondsBeforeTheLastPacket) {
  FlowContext c;
  Observe(c, Flow("10.0.0.1", "10.0.0.2", 53, kUdp, kT0));
  Observe(c, Flow("10.0.0.1", "10.0.0.2", 53, kUdp, kT0 + kSecond));
  EXPECT_EQ(Observe(c, Flow("10.0.0.1", "10.0.0.2", 53, kUdp, kT0 + 2 * kSecond)).src,
            3);  // the window includes its start
  EXPECT_EQ(Observe(c, Flow("10.0.0.1", "10.0.0.2", 53, kUdp, kT0 + 3 * kSecond + 1)).src,
            2);  // kT0 + 2 s and itself
  // A flow finished late (an idle timeout after its last packet) counts the flows that ended in
  // the 2 s before its last packet, not those after it.
  EXPECT_EQ(Observe(c, Flow("10.0.0.1", "10.0.0.2", 53, kUdp, kT0 + kSecond / 2)).src,
            2);  // kT0 and itself
}

TEST(FlowContextTest, OldEndsAreForgotten) {
  FlowContext c;
  for (int i = 0; i < 100; ++i) {
    Observe(c, Flow("10.0.0.1", "10.0.0.2", static_cast<uint16_t>(i), kUdp, kT0));
  }
  EXPECT_EQ(c.entries(), 400u);  // four kinds of key per flow
  EXPECT_EQ(c.keys(), 103u);     // one source, pair and destination; 100 services
  // Past kLateness, a few old keys go with every new flow (never all at once).
  const int64_t later = kT0 + std::chrono::nanoseconds(FlowContext::kLateness).count() + kSecond;
  for (int i = 0; i < 30; ++i) Observe(c, Flow("10.0.0.3", "10.0.0.4", 1, kUdp, later + i));
  EXPECT_EQ(c.keys(), 4u);
  EXPECT_EQ(c.entries(), 120u);
}

// 20 000 flows over 100 s on a few hosts and services, finishing out of order (each up to 1.5 s
// after its last packet), against a brute-force count: the incremental windows, the inserts
// before the newest end and the compaction of forgotten ends give the exact counts.
TEST(FlowContextTest, OutOfOrderEndsCountLikeBruteForce) {
  FlowContext c;
  const char* srcs[] = {"10.0.0.1", "10.0.0.2"};
  const char* dsts[] = {"10.0.1.1", "10.0.1.2", "10.0.1.3"};
  const uint16_t ports[] = {22, 53, 80, 443};
  std::vector<Ended> ended;
  Lcg next{12345};
  for (int i = 0; i < 20'000; ++i) {
    const int64_t finished = kT0 + i * 5'000'000LL;  // one every 5 ms
    const Ended f{next() % 2, next() % 3, next() % 4, finished,
                  finished - static_cast<int64_t>(next() % 1'500'000'000)};
    ended.push_back(f);
    ASSERT_EQ(Observe(c, Flow(srcs[f.s], dsts[f.d], ports[f.p], kTcp, f.end)), BruteForce(ended, f))
        << i;
  }
}

// 100 000 flows over 400 s from a shifting set of sources (a few busy ones, many seen once or
// again only after a long while), finishing out of order: keys come and go, so slots and the
// ends of busy keys are reused, and keys with one end gain more or have it replaced after it is
// forgotten. The counts stay those of a brute-force count.
TEST(FlowContextTest, KeysComingAndGoingCountLikeBruteForce) {
  FlowContext c;
  std::vector<Ended> ended;
  Lcg next{777};
  size_t most_keys = 0;
  for (int i = 0; i < 100'000; ++i) {
    const int64_t finished = kT0 + i * 4'000'000LL;  // 250 flows a second
    // half from 20 busy sources, half from 20 000 that drift by 1 000 every 40 s
    const uint32_t s = next() % 2 ? next() % 20 : 1000 + i / 10'000 * 1000 + next() % 20'000;
    const Ended f{s, next() % 8, next() % 5, finished,
                  finished - static_cast<int64_t>(next() % 1'500'000'000)};
    ended.push_back(f);
    FlowRecord flow = Flow("10.0.0.1", "10.0.1.1", static_cast<uint16_t>(f.p + 1), kUdp, f.end);
    flow.key.addr_a[0] = htonl(0x0A000000u + f.s);
    flow.key.addr_b[0] = htonl(0x0A010000u + f.d);
    ASSERT_EQ(Observe(c, flow), BruteForce(ended, f)) << i;
    most_keys = std::max(most_keys, c.keys());
  }
  // Old keys went as new ones came: those of the last ~37 s are kept (about 9 000), not those
  // of all 30 000 sources.
  EXPECT_LT(most_keys, 12'000u);
  // Past kLateness, they all go, a few with each new flow, and the ends counted go with them.
  const int64_t later =
      ended.back().finished + std::chrono::nanoseconds(FlowContext::kLateness).count();
  for (int i = 0; i < 3000; ++i) Observe(c, Flow("10.0.0.3", "10.0.0.4", 1, kUdp, later + i));
  EXPECT_EQ(c.keys(), 4u);
  EXPECT_EQ(c.entries(), 4u * 3000);
}

TEST(FlowContextTest, AFloodBeyondTheCapStaysBounded) {
  FlowContext c;
  Counts last{};
  // 400 000 spoofed sources to one service within 1 s: 1.6 M ends would be kept without the cap
  for (uint32_t i = 0; i < 400'000; ++i) {
    FlowRecord f = Flow("10.0.0.1", "10.0.0.10", 80, kTcp, kT0 + i * 2'500);
    f.key.addr_a[0] = htonl(0xC6120000u + i);  // 198.18.0.0 + i
    last = Observe(c, f);
  }
  EXPECT_LE(c.entries(), FlowContext::kMaxEntries);
  EXPECT_EQ(last.src, 1);
  EXPECT_GE(last.dst_svc, static_cast<double>(FlowContext::kMaxEntries / 4));  // the ends kept
  EXPECT_LE(last.dst_svc, 400'000);
}

}  // namespace
}  // namespace netguard::features
