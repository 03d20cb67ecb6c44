// The gRPC service (agent/api) through a real client on the unix socket: status, alerts (filters,
// paging, streams with resume), acknowledgement and feedback, flows, and the conversions.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/convert.h"
#include "api/server.h"
#include "api_harness.h"

namespace netguard::testing {
namespace {

using std::chrono::system_clock;

constexpr int64_t kBaseNs = 1'700'000'000'000'000'000;

std::unique_ptr<grpc::ClientContext> Context(int seconds = 10) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(system_clock::now() + std::chrono::seconds(seconds));
  return context;
}

// 30 alerts with varied source, class, severity and time.
std::vector<Alert> VariedAlerts(ApiHarness& h) {
  std::vector<Alert> alerts;
  for (int n = 0; n < 30; ++n) {
    Alert a = ApiHarness::MakeAlert(n);
    a.src_addr = "10.0.0." + std::to_string(n % 5);
    a.alert_class = n % 3 == 0 ? "Beacon" : "PortScan";
    a.severity = static_cast<Severity>(n % 4);
    a.time_ns = kBaseNs + n * 1'000'000'000LL;
    a.id = h.AddAlert(a);
    alerts.push_back(a);
  }
  return alerts;
}

// Pages through ListAlerts with `request` (page_size set by the caller); every id, in order.
std::vector<int64_t> AllPages(v1::NetGuard::Stub& stub, v1::ListAlertsRequest request, int* pages) {
  std::vector<int64_t> ids;
  *pages = 0;
  for (;;) {
    v1::ListAlertsResponse response;
    const grpc::Status s = stub.ListAlerts(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) break;
    ++*pages;
    for (const v1::Alert& a : response.alerts()) ids.push_back(a.id());
    if (response.next_page_token().empty()) break;
    EXPECT_FALSE(response.alerts().empty()) << "a token after an empty page";
    request.set_page_token(response.next_page_token());
  }
  return ids;
}

TEST(ApiServiceTest, StatusReportsEveryField) {
  ApiHarness h;
  v1::Status status;
  const grpc::Status s = h.Stub()->GetStatus(Context().get(), v1::GetStatusRequest(), &status);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(status.version(), "9.9.9-test");
  EXPECT_GE(status.uptime_seconds(), 5);
  EXPECT_LT(status.uptime_seconds(), 60);
  EXPECT_EQ(api::FromTimestamp(status.started()), h.status().started_ns);
  ASSERT_EQ(status.interfaces_size(), 1);
  EXPECT_EQ(status.interfaces(0).name(), "veth-test");
  EXPECT_EQ(status.interfaces(0).ifindex(), 7);
  EXPECT_EQ(status.interfaces(0).backend(), "ebpf");
  EXPECT_EQ(status.interfaces(0).xdp_mode(), "generic");
  EXPECT_TRUE(status.interfaces(0).tc_egress());
  EXPECT_EQ(status.counters().at("xdp_packets"), 1234u);
  EXPECT_EQ(status.counters().at("alerts"), 3u);
  EXPECT_EQ(status.ring_drops(), 2u);
  EXPECT_EQ(status.stored_flows(), 11u);
  EXPECT_EQ(status.active_blocks(), 1u);
  EXPECT_FALSE(status.coverage_degraded());
}

TEST(ApiServiceTest, ListAlertsFiltersAndPagesThroughEveryAlertExactlyOnce) {
  ApiHarness h;
  const std::vector<Alert> alerts = VariedAlerts(h);
  auto stub = h.Stub();

  struct Case {
    std::string name;
    std::function<void(v1::ListAlertsRequest&)> set;
    std::function<bool(const Alert&)> match;
  };
  const std::vector<Case> cases = {
      {"all", [](auto&) {}, [](const Alert&) { return true; }},
      {"source address", [](auto& r) { r.set_address("10.0.0.2"); },
       [](const Alert& a) { return a.src_addr == "10.0.0.2"; }},
      {"destination address", [](auto& r) { r.set_address("192.0.2.1"); },
       [](const Alert&) { return true; }},
      {"class", [](auto& r) { r.set_alert_class("Beacon"); },
       [](const Alert& a) { return a.alert_class == "Beacon"; }},
      {"min severity", [](auto& r) { r.set_min_severity(v1::SEVERITY_HIGH); },
       [](const Alert& a) { return a.severity >= Severity::kHigh; }},
      {"since and until",
       [](auto& r) {
         *r.mutable_since() = api::ToTimestamp(kBaseNs + 10'000'000'000);
         *r.mutable_until() = api::ToTimestamp(kBaseNs + 20'000'000'000);
       },
       [](const Alert& a) {
         return a.time_ns >= kBaseNs + 10'000'000'000 && a.time_ns < kBaseNs + 20'000'000'000;
       }},
      {"combined",
       [](auto& r) {
         r.set_address("10.0.0.3");
         r.set_alert_class("PortScan");
         r.set_min_severity(v1::SEVERITY_WARNING);
       },
       [](const Alert& a) {
         return a.src_addr == "10.0.0.3" && a.alert_class == "PortScan" &&
                a.severity >= Severity::kWarning;
       }},
  };
  for (const Case& c : cases) {
    std::vector<int64_t> expected;
    for (const Alert& a : alerts) {
      if (c.match(a)) expected.push_back(a.id);
    }
    std::reverse(expected.begin(), expected.end());  // newest first
    ASSERT_FALSE(expected.empty()) << c.name;
    for (uint32_t page_size : {1u, 4u, 7u, static_cast<uint32_t>(expected.size()), 1000u}) {
      v1::ListAlertsRequest request;
      c.set(request);
      request.set_page_size(page_size);
      int pages = 0;
      EXPECT_EQ(AllPages(*stub, request, &pages), expected) << c.name << " page " << page_size;
      EXPECT_EQ(pages, static_cast<int>((expected.size() + page_size - 1) / page_size))
          << c.name << " page " << page_size;
    }
  }

  // Every field of an alert makes the trip.
  v1::ListAlertsRequest one;
  one.set_page_size(1);
  v1::ListAlertsResponse response;
  ASSERT_TRUE(stub->ListAlerts(Context().get(), one, &response).ok());
  const v1::Alert& a = response.alerts(0);
  const Alert& want = alerts.back();
  EXPECT_EQ(a.id(), want.id);
  EXPECT_EQ(api::FromTimestamp(a.time()), want.time_ns);
  EXPECT_EQ(a.src_addr(), want.src_addr);
  EXPECT_EQ(a.src_port(), 40000u);
  EXPECT_EQ(a.dst_addr(), "192.0.2.1");
  EXPECT_EQ(a.protocol(), "TCP");
  EXPECT_EQ(a.alert_class(), want.alert_class);
  EXPECT_DOUBLE_EQ(a.score(), 0.5);
  EXPECT_EQ(a.severity(), api::ToProto(want.severity));
  EXPECT_EQ(a.mitre_technique(), "T1046");
  EXPECT_EQ(a.detector(), "rule.port_scan");
  EXPECT_EQ(a.evidence_json(), want.evidence_json);
  EXPECT_FALSE(a.acknowledged());
  EXPECT_EQ(a.feedback(), v1::FEEDBACK_UNSPECIFIED);
}

TEST(ApiServiceTest, ListAlertsRejectsBadArguments) {
  ApiHarness h;
  VariedAlerts(h);
  auto stub = h.Stub();
  const std::vector<std::function<void(v1::ListAlertsRequest&)>> bad = {
      [](auto& r) { r.set_page_token("abc"); },
      [](auto& r) { r.set_page_token("-5"); },
      [](auto& r) { r.set_page_token("0"); },
      [](auto& r) { r.set_page_token("12x"); },
      [](auto& r) { r.set_address("not-an-address"); },
      [](auto& r) { r.set_min_severity(static_cast<v1::Severity>(42)); },
      [](auto& r) {
        *r.mutable_since() = api::ToTimestamp(kBaseNs + 2);
        *r.mutable_until() = api::ToTimestamp(kBaseNs + 1);
      },
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    v1::ListAlertsRequest request;
    bad[i](request);
    v1::ListAlertsResponse response;
    const grpc::Status s = stub->ListAlerts(Context().get(), request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << i << ": " << s.error_message();
    EXPECT_FALSE(s.error_message().empty());
  }
}

TEST(ApiServiceTest, StreamAlertsResumeReplaysExactlyTheLaterAlertsThenDeliversNewOnes) {
  ApiHarness h;
  std::vector<int64_t> ids;
  for (int n = 0; n < 10; ++n) ids.push_back(h.AddAlert(ApiHarness::MakeAlert(n)));

  auto stub = h.Stub();
  auto context = Context(20);
  v1::StreamAlertsRequest request;
  request.set_resume_after_id(ids[3]);
  auto reader = stub->StreamAlerts(context.get(), request);
  v1::Alert alert;
  for (size_t i = 4; i < ids.size(); ++i) {  // oldest first, across several store batches
    ASSERT_TRUE(reader->Read(&alert));
    EXPECT_EQ(alert.id(), ids[i]);
  }
  const int64_t fresh = h.AddAlert(ApiHarness::MakeAlert(99));
  ASSERT_TRUE(reader->Read(&alert));
  EXPECT_EQ(alert.id(), fresh);
  EXPECT_EQ(alert.src_addr(), "10.0.0.99");

  context->TryCancel();
  while (reader->Read(&alert)) ADD_FAILURE() << "unexpected alert " << alert.id();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST(ApiServiceTest, StreamAlertsFromNowAppliesTheFilters) {
  ApiHarness h;
  for (int n = 0; n < 3; ++n) h.AddAlert(ApiHarness::MakeAlert(n));  // before: never sent

  auto stub = h.Stub();
  auto context = Context(20);
  v1::StreamAlertsRequest request;  // resume_after_id 0: from now on
  request.set_alert_class("Beacon");
  request.set_min_severity(v1::SEVERITY_HIGH);
  request.set_address("10.0.0.7");
  auto reader = stub->StreamAlerts(context.get(), request);

  // Give the stream time to start, then commit non-matching alerts and one that matches.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Alert wrong_class = ApiHarness::MakeAlert(7);
  wrong_class.severity = Severity::kCritical;
  h.AddAlert(wrong_class);
  Alert too_low = ApiHarness::MakeAlert(7);
  too_low.alert_class = "Beacon";
  too_low.severity = Severity::kWarning;
  h.AddAlert(too_low);
  Alert other_host = ApiHarness::MakeAlert(8);
  other_host.alert_class = "Beacon";
  other_host.severity = Severity::kCritical;
  h.AddAlert(other_host);
  Alert match = ApiHarness::MakeAlert(7);
  match.alert_class = "Beacon";
  match.severity = Severity::kHigh;
  const int64_t match_id = h.AddAlert(match);

  v1::Alert alert;
  ASSERT_TRUE(reader->Read(&alert));
  EXPECT_EQ(alert.id(), match_id);
  context->TryCancel();
  while (reader->Read(&alert)) ADD_FAILURE() << "unexpected alert " << alert.id();
  reader->Finish();
}

TEST(ApiServiceTest, StreamEndsWhenTheNotifierCloses) {
  ApiHarness h;
  const int64_t first = h.AddAlert(ApiHarness::MakeAlert(1));
  h.AddAlert(ApiHarness::MakeAlert(2));
  auto stub = h.Stub();
  auto context = Context(20);
  v1::StreamAlertsRequest request;
  request.set_resume_after_id(first);
  auto reader = stub->StreamAlerts(context.get(), request);
  v1::Alert alert;
  ASSERT_TRUE(reader->Read(&alert));
  h.notifier().Close();
  EXPECT_FALSE(reader->Read(&alert));
  const grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST(ApiServiceTest, StreamAlertsRejectsNegativeResume) {
  ApiHarness h;
  auto stub = h.Stub();
  auto context = Context();
  v1::StreamAlertsRequest request;
  request.set_resume_after_id(-1);
  auto reader = stub->StreamAlerts(context.get(), request);
  v1::Alert alert;
  EXPECT_FALSE(reader->Read(&alert));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(ApiServiceTest, AckAndFeedback) {
  ApiHarness h;
  const int64_t id = h.AddAlert(ApiHarness::MakeAlert(1));
  auto stub = h.Stub();

  v1::AckAlertRequest ack;
  ack.set_id(id + 100);
  v1::Alert alert;
  grpc::Status s = stub->AckAlert(Context().get(), ack, &alert);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find(std::to_string(id + 100)), std::string::npos);

  v1::SetFeedbackRequest feedback;
  feedback.set_id(id + 100);
  feedback.set_feedback(v1::FEEDBACK_TRUE_POSITIVE);
  EXPECT_EQ(stub->SetFeedback(Context().get(), feedback, &alert).error_code(),
            grpc::StatusCode::NOT_FOUND);

  ack.set_id(id);
  ASSERT_TRUE(stub->AckAlert(Context().get(), ack, &alert).ok());
  EXPECT_EQ(alert.id(), id);
  EXPECT_TRUE(alert.acknowledged());

  feedback.set_id(id);
  feedback.set_feedback(v1::FEEDBACK_FALSE_POSITIVE);
  ASSERT_TRUE(stub->SetFeedback(Context().get(), feedback, &alert).ok());
  EXPECT_EQ(alert.feedback(), v1::FEEDBACK_FALSE_POSITIVE);
  EXPECT_TRUE(alert.acknowledged());
  EXPECT_EQ(h.store().GetAlert(id)->feedback, Feedback::kFalsePositive);

  feedback.set_feedback(static_cast<v1::Feedback>(9));
  EXPECT_EQ(stub->SetFeedback(Context().get(), feedback, &alert).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// A finished TCP/UDP flow between two IPv4 addresses (the initiator is side A).
FlowRecord MakeFlow(const char* src, uint16_t sport, const char* dst, uint16_t dport, uint8_t proto,
                    int64_t start_ns) {
  FlowRecord flow;
  flow.key.family = NG_FAMILY_IPV4;
  inet_pton(AF_INET, src, flow.key.addr_a);
  inet_pton(AF_INET, dst, flow.key.addr_b);
  flow.key.port_a = sport;
  flow.key.port_b = dport;
  flow.key.proto = proto;
  flow.acc.initiator = NG_SIDE_A;
  flow.acc.dir[NG_DIR_FWD].payload.count = 3;
  flow.acc.dir[NG_DIR_FWD].payload.sum = 300;
  flow.acc.dir[NG_DIR_BWD].payload.count = 2;
  flow.acc.dir[NG_DIR_BWD].payload.sum = 2000;
  flow.end_reason = FlowEndReason::kFin;
  flow.ifindex = 4;
  flow.start_ns = start_ns;
  flow.end_ns = start_ns + 1'500'000'000;
  return flow;
}

TEST(ApiServiceTest, ListAndStreamFlows) {
  ApiHarness h;
  std::vector<FlowRecord> flows;
  for (int i = 0; i < 12; ++i) {
    flows.push_back(MakeFlow(i % 2 ? "10.1.0.1" : "10.1.0.2", static_cast<uint16_t>(50000 + i),
                             "192.0.2.9", i % 3 ? 443 : 53, i % 3 ? 6 : 17, kBaseNs + i));
  }
  h.store().AddFlows(flows);
  h.notifier().PublishFlows(flows.back().id);
  auto stub = h.Stub();

  v1::ListFlowsRequest request;
  request.set_protocol("udp");
  request.set_page_size(2);
  std::vector<int64_t> got;
  for (;;) {
    v1::ListFlowsResponse response;
    ASSERT_TRUE(stub->ListFlows(Context().get(), request, &response).ok());
    for (const v1::Flow& f : response.flows()) {
      got.push_back(f.id());
      EXPECT_EQ(f.protocol(), "UDP");
      EXPECT_EQ(f.dst_port(), 53u);
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_EQ(got, (std::vector<int64_t>{flows[9].id, flows[6].id, flows[3].id, flows[0].id}));

  request = {};
  request.set_address("10.1.0.1");
  request.set_port(443);
  v1::ListFlowsResponse response;
  ASSERT_TRUE(stub->ListFlows(Context().get(), request, &response).ok());
  ASSERT_EQ(response.flows_size(), 4);  // odd i with i % 3 != 0: 1, 5, 7, 11
  const v1::Flow& f = response.flows(0);
  EXPECT_EQ(f.id(), flows[11].id);
  EXPECT_EQ(f.src_addr(), "10.1.0.1");
  EXPECT_EQ(f.src_port(), 50011u);
  EXPECT_EQ(f.dst_addr(), "192.0.2.9");
  EXPECT_EQ(f.fwd_packets(), 3u);
  EXPECT_EQ(f.bwd_packets(), 2u);
  EXPECT_EQ(f.fwd_bytes(), 300u);
  EXPECT_EQ(f.bwd_bytes(), 2000u);
  EXPECT_EQ(f.end_reason(), "fin");
  EXPECT_EQ(f.ifindex(), 4u);
  EXPECT_EQ(api::FromTimestamp(f.end()) - api::FromTimestamp(f.start()), 1'500'000'000);

  for (const auto& set : std::vector<std::function<void(v1::ListFlowsRequest&)>>{
           [](auto& r) { r.set_protocol("SCTPX"); }, [](auto& r) { r.set_port(70000); },
           [](auto& r) { r.set_address("10.1.0"); }, [](auto& r) { r.set_page_token("x"); }}) {
    v1::ListFlowsRequest bad;
    set(bad);
    EXPECT_EQ(stub->ListFlows(Context().get(), bad, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }

  // Stream: replay after flows[7] with a filter, then one new flow.
  auto context = Context(20);
  v1::StreamFlowsRequest stream;
  stream.set_resume_after_id(flows[7].id);
  stream.set_protocol("TCP");
  auto reader = stub->StreamFlows(context.get(), stream);
  v1::Flow flow;
  for (int i : {8, 10, 11}) {
    ASSERT_TRUE(reader->Read(&flow));
    EXPECT_EQ(flow.id(), flows[i].id);
  }
  std::vector<FlowRecord> more = {MakeFlow("10.1.0.3", 1, "192.0.2.9", 53, 17, kBaseNs + 20),
                                  MakeFlow("10.1.0.3", 2, "192.0.2.9", 80, 6, kBaseNs + 21)};
  h.store().AddFlows(more);
  h.notifier().PublishFlows(more.back().id);
  ASSERT_TRUE(reader->Read(&flow));
  EXPECT_EQ(flow.id(), more[1].id);
  context->TryCancel();
  reader->Finish();
}

TEST(ApiServiceTest, BlockRpcsWithoutADataPlaneFailPrecondition) {
  ApiHarness h;  // no BlockManager
  auto stub = h.Stub();
  v1::BlockRequest block;
  block.set_prefix("198.51.100.0/24");
  v1::BlockEntry entry;
  EXPECT_EQ(stub->Block(Context().get(), block, &entry).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  v1::ListBlocksResponse list;
  EXPECT_EQ(stub->ListBlocks(Context().get(), v1::ListBlocksRequest(), &list).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST(ApiConvertTest, Helpers) {
  EXPECT_EQ(api::ParseProtocol("TCP"), 6);
  EXPECT_EQ(api::ParseProtocol("icmpv6"), 58);
  EXPECT_EQ(api::ParseProtocol("47"), 47);
  EXPECT_EQ(api::ParseProtocol("256"), std::nullopt);
  EXPECT_EQ(api::ParseProtocol(""), std::nullopt);
  EXPECT_EQ(api::CanonicalAddress("2001:DB8:0::1"), "2001:db8::1");
  EXPECT_EQ(api::CanonicalAddress("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(api::CanonicalAddress("10.0.0"), std::nullopt);
  int64_t id = -1;
  EXPECT_TRUE(api::DecodePageToken("", &id).ok());
  EXPECT_EQ(id, 0);
  EXPECT_TRUE(api::DecodePageToken(api::EncodePageToken(42), &id).ok());
  EXPECT_EQ(id, 42);
  EXPECT_EQ(api::PageSize(0), 100u);
  EXPECT_EQ(api::PageSize(1'000'000), store::Store::kMaxListLimit);
  EXPECT_EQ(api::FromTimestamp(api::ToTimestamp(-1'500'000'000)), -1'500'000'000);
  EXPECT_EQ(api::FromTimestamp(api::ToTimestamp(kBaseNs + 7)), kBaseNs + 7);
  EXPECT_TRUE(api::IsLoopbackAddress("127.0.0.1:50051"));
  EXPECT_TRUE(api::IsLoopbackAddress("127.1.2.3:1"));
  EXPECT_TRUE(api::IsLoopbackAddress("[::1]:50051"));
  EXPECT_TRUE(api::IsLoopbackAddress("localhost:1"));
  EXPECT_FALSE(api::IsLoopbackAddress("0.0.0.0:50051"));
  EXPECT_FALSE(api::IsLoopbackAddress("[::]:50051"));
  EXPECT_FALSE(api::IsLoopbackAddress("10.0.0.1:50051"));
  EXPECT_TRUE(api::ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(api::ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(api::ConstantTimeEquals("secret", "secret2"));
  EXPECT_FALSE(api::ConstantTimeEquals("", "x"));
  EXPECT_TRUE(api::ConstantTimeEquals("", ""));
}

}  // namespace
}  // namespace netguard::testing
