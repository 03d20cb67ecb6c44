// HttpApi (agent/api/http_api.*): the HTTP/JSON face over a real ApiServer (its in-process
// channel), a real store and notifier: JSON round trips, errors, the token rule, server-sent
// events with resume, dead SSE clients, and the non-loopback refusals.
#include "api/http_api.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "api/rpc_gateway.h"
#include "api/server.h"
#include "api_harness.h"
#include "geo/country_lookup.h"
#include "geo_test_util.h"
#include "store_test_util.h"

namespace netguard::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr char kToken[] = "s3cret-token";

template <typename Pred>
bool WaitUntil(Pred pred, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return pred();
}

class HttpApiTest : public ::testing::Test {
 protected:
  void Start(api::HttpApiOptions options = {}) {
    options.address = "127.0.0.1:0";
    options.heartbeat = milliseconds(100);
    if (options.token.empty()) options.token = kToken;
    http_ = std::make_unique<api::HttpApi>(options, harness_.server().InProcessChannel());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", http_->port());
    client_->set_read_timeout(10, 0);
  }

  void TearDown() override {
    client_.reset();
    if (http_) http_->Stop();
  }

  httplib::Result Post(const std::string& method, const std::string& body,
                       const std::string& token = "") {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    return client_->Post("/api/v1/" + method, headers, body, "application/json");
  }

  ApiHarness harness_;
  std::unique_ptr<api::HttpApi> http_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpApiTest, UnaryMethodsRoundTripAsProtobufJson) {
  Start();
  const int64_t id = harness_.AddAlert(ApiHarness::MakeAlert(7));

  httplib::Result status = client_->Get("/api/v1/GetStatus");
  ASSERT_TRUE(status) << httplib::to_string(status.error());
  EXPECT_EQ(status->status, 200);
  EXPECT_EQ(status->get_header_value("Content-Type"), "application/json");
  const json s = json::parse(status->body);
  EXPECT_EQ(s["version"], "9.9.9-test");
  EXPECT_EQ(s["counters"]["xdp_packets"], "1234");  // uint64 as a string (protobuf JSON)
  EXPECT_EQ(s["interfaces"][0]["xdpMode"], "generic");

  // GET with query parameters (JSON names) and POST with a body are the same request.
  httplib::Result get = client_->Get("/api/v1/ListAlerts?address=10.0.0.7&pageSize=5");
  ASSERT_TRUE(get);
  ASSERT_EQ(get->status, 200) << get->body;
  const json listed = json::parse(get->body);
  ASSERT_EQ(listed["alerts"].size(), 1u) << get->body;
  EXPECT_EQ(listed["alerts"][0]["id"], std::to_string(id));
  EXPECT_EQ(listed["alerts"][0]["alertClass"], "PortScan");
  EXPECT_EQ(listed["alerts"][0]["acknowledged"], false);  // defaults are printed
  httplib::Result post = Post("ListAlerts", R"({"address":"10.0.0.7","page_size":5})");
  ASSERT_TRUE(post);
  EXPECT_EQ(json::parse(post->body), listed);
  EXPECT_EQ(json::parse(client_->Get("/api/v1/ListAlerts?address=10.0.0.99")->body)["alerts"],
            json::array());

  // A change with the token goes through to the store.
  httplib::Result ack = Post("AckAlert", R"({"id":")" + std::to_string(id) + R"("})", kToken);
  ASSERT_TRUE(ack);
  ASSERT_EQ(ack->status, 200) << ack->body;
  EXPECT_EQ(json::parse(ack->body)["acknowledged"], true);
  EXPECT_TRUE(harness_.store().GetAlert(id)->acknowledged);
  httplib::Result feedback =
      Post("SetFeedback",
           R"({"id":)" + std::to_string(id) + R"(,"feedback":"FEEDBACK_FALSE_POSITIVE"})", kToken);
  ASSERT_EQ(feedback->status, 200) << feedback->body;
  EXPECT_EQ(json::parse(feedback->body)["feedback"], "FEEDBACK_FALSE_POSITIVE");

  // The method list says which methods are reads.
  const json methods = json::parse(client_->Get("/api/v1")->body)["methods"];
  std::map<std::string, bool> read_only;
  for (const json& m : methods) read_only[m["name"]] = m["readOnly"];
  EXPECT_TRUE(read_only.at("ListAlerts"));
  EXPECT_TRUE(read_only.at("LookupCountries"));
  EXPECT_FALSE(read_only.at("Block"));
  EXPECT_FALSE(read_only.at("ReloadModel"));
  EXPECT_FALSE(read_only.at("SetRuleEnabled"));
}

TEST_F(HttpApiTest, ErrorsAreJsonWithTheMappedStatus) {
  Start();
  const auto expect_error = [](const httplib::Result& r, int http, const std::string& code,
                               const std::string& needle) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, http) << r->body;
    const json body = json::parse(r->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << r->body;
    EXPECT_EQ(body["status"], code) << r->body;
    EXPECT_NE(body["message"].get<std::string>().find(needle), std::string::npos) << r->body;
  };
  expect_error(Post("ListAlerts", "{not json"), 400, "INVALID_ARGUMENT", "ListAlertsRequest");
  expect_error(Post("ListAlerts", R"({"noSuchField":1})"), 400, "INVALID_ARGUMENT", "noSuchField");
  expect_error(client_->Get("/api/v1/ListAlerts?bogus=1"), 400, "INVALID_ARGUMENT", "bogus");
  expect_error(client_->Get("/api/v1/NoSuchMethod"), 404, "NOT_FOUND", "NoSuchMethod");
  expect_error(client_->Get("/api/v2/x"), 404, "NOT_FOUND", "/api/v2/x");
  expect_error(Post("AckAlert", R"({"id":424242})", kToken), 404, "NOT_FOUND", "424242");
  // pcap-live style harness without blocks: the service's FAILED_PRECONDITION comes through.
  expect_error(Post("Block", R"({"prefix":"192.0.2.9/32"})", kToken), 400, "FAILED_PRECONDITION",
               "blocklist");
  expect_error(client_->Delete("/api/v1/Unblock"), 405, "INVALID_ARGUMENT", "DELETE");
  expect_error(client_->Get("/api/v1/AckAlert?id=1"), 401, "UNAUTHENTICATED", "token");
  httplib::Headers auth = {{"Authorization", std::string("Bearer ") + kToken}};
  expect_error(client_->Get("/api/v1/AckAlert?id=1", auth), 405, "INVALID_ARGUMENT", "POST");
  expect_error(Post("LookupCountries", R"({"addresses":["not-an-ip"]})"), 400, "INVALID_ARGUMENT",
               "not-an-ip");
  // DNS rebinding: a loopback listener answers only loopback Host names.
  expect_error(client_->Get("/api/v1/GetStatus", {{"Host", "attacker.example"}}), 403,
               "PERMISSION_DENIED", "attacker.example");
  EXPECT_EQ(client_->Get("/api/v1/GetStatus", {{"Host", "localhost:8787"}})->status, 200);

  EXPECT_EQ(api::HttpStatusFor(grpc::StatusCode::UNIMPLEMENTED), 501);
  EXPECT_EQ(api::HttpStatusFor(grpc::StatusCode::UNAVAILABLE), 503);
  EXPECT_EQ(api::HttpStatusFor(grpc::StatusCode::PERMISSION_DENIED), 403);
}

TEST_F(HttpApiTest, ChangesNeedTheTokenReadsDoNotOnLoopback) {
  Start();
  const int64_t id = harness_.AddAlert(ApiHarness::MakeAlert(3));
  const std::string body = R"({"id":)" + std::to_string(id) + "}";
  httplib::Result none = Post("AckAlert", body);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401) << none->body;
  EXPECT_EQ(none->get_header_value("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(Post("AckAlert", body, "wrong-token")->status, 401);
  EXPECT_FALSE(harness_.store().GetAlert(id)->acknowledged) << "a refused change went through";
  // Every change is guarded, also the methods other issues implement.
  for (const char* change :
       {"Block", "Unblock", "SetFeedback", "ReloadModel", "SetRuleEnabled", "ReloadRules"}) {
    EXPECT_EQ(Post(change, "{}")->status, 401) << change;
  }
  EXPECT_EQ(Post("AckAlert", body, kToken)->status, 200);
  EXPECT_TRUE(harness_.store().GetAlert(id)->acknowledged);
  EXPECT_EQ(client_->Get("/api/v1/ListBlocks")->status, 400);  // no blocks here: a read, no 401
  EXPECT_EQ(client_->Get("/api/v1/ListAlerts")->status, 200);
}

TEST_F(HttpApiTest, WithoutAConfiguredTokenChangesAreRefused) {
  http_ = std::make_unique<api::HttpApi>(api::HttpApiOptions{.address = "127.0.0.1:0", .token = ""},
                                         harness_.server().InProcessChannel());
  client_ = std::make_unique<httplib::Client>("127.0.0.1", http_->port());
  httplib::Result r = Post("AckAlert", R"({"id":1})", "anything");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_NE(r->body.find("token_file"), std::string::npos) << r->body;
}

// Reads `fd` until `needle` shows up or `timeout` passes; returns everything read.
std::string ReadUntil(int fd, const std::string& needle, milliseconds timeout) {
  std::string text;
  const auto deadline = Clock::now() + timeout;
  while (text.find(needle) == std::string::npos && Clock::now() < deadline) {
    timeval tv{.tv_sec = 0, .tv_usec = 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[4096];
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n > 0) text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// The ids of the `id:` lines of an event stream, in order.
std::vector<int64_t> EventIds(const std::string& text) {
  std::vector<int64_t> ids;
  static const std::regex kId("(^|\n)id: ([0-9]+)\n");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kId); it != std::sregex_iterator();
       ++it) {
    ids.push_back(std::stoll((*it)[2]));
  }
  return ids;
}

TEST_F(HttpApiTest, AlertStreamIsServerSentEventsAndResumesFromLastEventId) {
  Start();
  std::vector<int64_t> ids;
  for (int n = 1; n <= 3; ++n) ids.push_back(harness_.AddAlert(ApiHarness::MakeAlert(n)));

  const int fd = Connect(http_->port());
  ASSERT_GE(fd, 0);
  const std::string request =
      "GET /api/v1/StreamAlerts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Accept: text/event-stream\r\nLast-Event-ID: " +
      std::to_string(ids[0]) + "\r\n\r\n";
  ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  // The replay: every alert after the last event id, oldest first.
  std::string text = ReadUntil(fd, "id: " + std::to_string(ids[2]) + "\n", milliseconds(5000));
  EXPECT_NE(text.find("Content-Type: text/event-stream"), std::string::npos) << text;
  EXPECT_EQ(EventIds(text), (std::vector<int64_t>{ids[1], ids[2]})) << text;
  EXPECT_EQ(http_->open_streams(), 1u);

  // Then what is committed while the stream is open, pushed without a new request.
  const int64_t live = harness_.AddAlert(ApiHarness::MakeAlert(42));
  text += ReadUntil(fd, "id: " + std::to_string(live) + "\n", milliseconds(5000));
  EXPECT_EQ(EventIds(text), (std::vector<int64_t>{ids[1], ids[2], live})) << text;
  const size_t data = text.rfind("data: ");
  ASSERT_NE(data, std::string::npos);
  const json pushed = json::parse(text.substr(data + 6, text.find('\n', data) - data - 6));
  EXPECT_EQ(pushed["srcAddr"], "10.0.0.42");
  EXPECT_EQ(pushed["mitreTechnique"], "T1046");
  // Idle streams get heartbeats (comments an EventSource ignores).
  text += ReadUntil(fd, ": ping", milliseconds(2000));
  EXPECT_NE(text.find(": ping\n\n"), std::string::npos);
  close(fd);

  // Query parameters filter the stream like the gRPC request fields.
  const int filtered = Connect(http_->port());
  const std::string again =
      "GET /api/v1/StreamAlerts?resumeAfterId=0&address=10.0.0.2 HTTP/1.1"
      "\r\nHost: localhost\r\n\r\n";
  ASSERT_EQ(send(filtered, again.data(), again.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(again.size()));
  EXPECT_NE(ReadUntil(filtered, "retry:", milliseconds(3000)).find("retry: 2000"),
            std::string::npos);
  harness_.AddAlert(ApiHarness::MakeAlert(5));
  const int64_t wanted = harness_.AddAlert(ApiHarness::MakeAlert(2));
  EXPECT_EQ(EventIds(ReadUntil(filtered, "id: " + std::to_string(wanted), milliseconds(5000))),
            (std::vector<int64_t>{wanted}));
  close(filtered);
}

// Opens StreamFlows with `last_event_id` (the EventSource reconnect header); returns the socket.
int OpenFlowStream(int port, int64_t last_event_id) {
  const int fd = Connect(port);
  const std::string request =
      "GET /api/v1/StreamFlows HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Last-Event-ID: " +
      std::to_string(last_event_id) + "\r\n\r\n";
  if (fd >= 0) send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  return fd;
}

// A client that drops and reconnects with the last id it saw misses no flow stored meanwhile.
TEST_F(HttpApiTest, FlowStreamResumesAfterAReconnectWithoutAGap) {
  Start();
  std::vector<FlowRecord> first = store::ManyFlows(0, 3);
  harness_.store().AddFlows(first);
  harness_.notifier().PublishFlows(first.back().id);

  int fd = OpenFlowStream(http_->port(), first[0].id);
  ASSERT_GE(fd, 0);
  std::string text = ReadUntil(fd, "id: " + std::to_string(first[2].id) + "\n", milliseconds(5000));
  EXPECT_EQ(EventIds(text), (std::vector<int64_t>{first[1].id, first[2].id})) << text;
  const size_t data = text.rfind("data: ");
  ASSERT_NE(data, std::string::npos);
  EXPECT_EQ(json::parse(text.substr(data + 6, text.find('\n', data) - data - 6))["srcAddr"],
            "10.0.0.2");
  close(fd);  // the connection drops

  std::vector<FlowRecord> missed = store::ManyFlows(3, 2);  // stored while the client is away
  harness_.store().AddFlows(missed);
  harness_.notifier().PublishFlows(missed.back().id);

  fd = OpenFlowStream(http_->port(), first[2].id);
  ASSERT_GE(fd, 0);
  text = ReadUntil(fd, "id: " + std::to_string(missed[1].id) + "\n", milliseconds(5000));
  EXPECT_EQ(EventIds(text), (std::vector<int64_t>{missed[0].id, missed[1].id})) << text;
  std::vector<FlowRecord> live = store::ManyFlows(5, 1);
  harness_.store().AddFlows(live);
  harness_.notifier().PublishFlows(live.back().id);
  text += ReadUntil(fd, "id: " + std::to_string(live[0].id) + "\n", milliseconds(5000));
  EXPECT_EQ(EventIds(text), (std::vector<int64_t>{missed[0].id, missed[1].id, live[0].id}));
  close(fd);
}

TEST_F(HttpApiTest, ADeadEventStreamClientFreesItsStream) {
  Start();
  constexpr int kClients = 3;
  std::vector<int> fds;
  for (int i = 0; i < kClients; ++i) {
    const int fd = Connect(http_->port());
    ASSERT_GE(fd, 0);
    const std::string request = "GET /api/v1/StreamFlows HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    ASSERT_GT(send(fd, request.data(), request.size(), MSG_NOSIGNAL), 0);
    ASSERT_NE(ReadUntil(fd, "retry:", milliseconds(3000)).find("retry:"), std::string::npos);
    fds.push_back(fd);
  }
  EXPECT_TRUE(WaitUntil([&] { return http_->open_streams() == kClients; }, milliseconds(2000)));
  for (int fd : fds) close(fd);  // the clients vanish without a word
  // The next heartbeat write fails: the HTTP stream and its gRPC stream end.
  EXPECT_TRUE(WaitUntil([&] { return http_->open_streams() == 0; }, milliseconds(5000)))
      << http_->open_streams() << " stream(s) still open";
  // The server still serves.
  EXPECT_EQ(client_->Get("/api/v1/GetStatus")->status, 200);
}

TEST_F(HttpApiTest, StreamsBeyondTheLimitAreRefusedAndStopEndsOpenOnes) {
  Start({.max_streams = 1});
  const int fd = Connect(http_->port());
  const std::string request = "GET /api/v1/StreamAlerts HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  ASSERT_GT(send(fd, request.data(), request.size(), MSG_NOSIGNAL), 0);
  ASSERT_NE(ReadUntil(fd, "retry:", milliseconds(3000)).find("retry:"), std::string::npos);
  httplib::Result second = client_->Get("/api/v1/StreamAlerts");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 503) << second->body;
  const auto before = Clock::now();
  http_->Stop();
  EXPECT_LT(Clock::now() - before, std::chrono::seconds(8));
  EXPECT_EQ(http_->open_streams(), 0u);
  close(fd);
}

TEST_F(HttpApiTest, CountriesAreTheSameServiceOverHttpAndNgctl) {
  Start();
  httplib::Result r = client_->Get("/api/v1/LookupCountries?addresses=10.1.2.3&addresses=ff02::1");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json countries = json::parse(r->body)["countries"];
  ASSERT_EQ(countries.size(), 2u) << r->body;
  EXPECT_EQ(countries[0]["address"], "10.1.2.3");
  EXPECT_EQ(countries[0]["local"], true);
  EXPECT_EQ(countries[1]["local"], true);

  const CommandResult ctl = RunNgctl(
      {"--socket", harness_.socket_path(), "-o", "json", "countries", "10.1.2.3", "ff02::1"});
  ASSERT_EQ(ctl.exit_code, 0) << ctl.err;
  const std::vector<std::string> lines = Lines(ctl.out);
  ASSERT_EQ(lines.size(), 2u) << ctl.out;
  EXPECT_EQ(json::parse(lines[0]), countries[0]);
  EXPECT_EQ(RunNgctl({"--socket", harness_.socket_path(), "countries", "not-an-ip"}).exit_code, 1);
}

// The agent's GeoIP through the HTTP face and ngctl: a MaxMind .mmdb first, and a broken one
// reported (databaseError, ngctl's stderr) while Debian's geoip-database answers.
TEST(HttpApiGeoTest, CountriesComeFromTheMmdbAndABrokenOneIsReported) {
  const TempDir dir;
  std::string why_not;
  const std::string mmdb = WriteTestMmdb(dir.path(), why_not);
  if (mmdb.empty()) GTEST_SKIP() << why_not;
  const std::string corrupt = dir.path() + "/corrupt.mmdb";
  std::ofstream(corrupt) << "not a database";
  CommandResult ctl;  // `ngctl countries 8.8.8.8` against the same agent
  const auto countries = [&](const std::string& path) {
    ApiHarness harness({.countries = std::make_shared<geo::CountryLookup>(geo::GeoDatabases{
                            .mmdb = path, .database = kLegacyV4, .database_v6 = kLegacyV6})});
    api::HttpApi http({.address = "127.0.0.1:0"}, harness.server().InProcessChannel());
    httplib::Client client("127.0.0.1", http.port());
    httplib::Result r = client.Get(
        "/api/v1/LookupCountries?addresses=192.0.2.1&addresses=2001:db8::7&addresses=10.9.8.7"
        "&addresses=8.8.8.8");
    http.Stop();
    ctl = RunNgctl({"--socket", harness.socket_path(), "countries", "8.8.8.8"});
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : httplib::to_string(r.error()));
    return r ? json::parse(r->body) : json();
  };
  const json good = countries(mmdb);
  EXPECT_EQ(good["database"], mmdb);
  EXPECT_EQ(good["databaseError"], "");
  ASSERT_EQ(good["countries"].size(), 4u) << good;
  EXPECT_EQ(good["countries"][0]["countryCode"], "FR");
  EXPECT_EQ(good["countries"][0]["countryName"], "France");
  EXPECT_EQ(good["countries"][1]["countryCode"], "BR");
  EXPECT_EQ(good["countries"][2]["local"], true);
  EXPECT_EQ(good["countries"][3]["countryCode"], "NZ");  // the mmdb, not GeoIP.dat's US
  EXPECT_EQ(ctl.exit_code, 0) << ctl.err;
  EXPECT_NE(ctl.out.find("New Zealand"), std::string::npos) << ctl.out;
  EXPECT_EQ(ctl.err, "");

  if (!std::filesystem::exists(kLegacyV4)) GTEST_SKIP() << "geoip-database is not installed";
  const json fallback = countries(corrupt);
  EXPECT_EQ(fallback["database"], std::string(kLegacyV4) + ", " + kLegacyV6);
  EXPECT_NE(fallback["databaseError"].get<std::string>().find("cannot open " + corrupt),
            std::string::npos)
      << fallback;
  EXPECT_EQ(fallback["countries"][0]["countryCode"], "");
  EXPECT_EQ(fallback["countries"][3]["countryCode"], "US");
  EXPECT_NE(ctl.err.find("ngctl: GeoIP: cannot open " + corrupt), std::string::npos) << ctl.err;
  EXPECT_NE(ctl.out.find("United States"), std::string::npos) << ctl.out;
}

TEST_F(HttpApiTest, ServesTheDashboardWithClientSideRoutes) {
  const std::string dir = harness_.dir() + "/dashboard";
  std::filesystem::create_directories(dir + "/assets");
  std::ofstream(dir + "/index.html") << "<!doctype html><title>NetGuard</title>";
  std::ofstream(dir + "/assets/app.js") << "console.log(1)";
  Start({.dashboard_dir = dir});
  httplib::Result index = client_->Get("/");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);
  EXPECT_NE(index->body.find("<title>NetGuard</title>"), std::string::npos);
  httplib::Result js = client_->Get("/assets/app.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_EQ(js->body, "console.log(1)");
  EXPECT_NE(js->get_header_value("Content-Type").find("javascript"), std::string::npos);
  // A client-side route (a reload on /forensics/10.0.0.3) gets the app; a missing asset does not.
  httplib::Result route = client_->Get("/forensics/10.0.0.3");
  ASSERT_TRUE(route);
  EXPECT_EQ(route->status, 200);
  EXPECT_EQ(route->body, index->body);
  EXPECT_EQ(client_->Get("/assets/missing.js")->status, 404);
  EXPECT_EQ(client_->Get("/../../etc/passwd")->body, index->body);  // never a file outside
  // The API keeps its JSON answers next to the files.
  EXPECT_EQ(client_->Get("/api/v1/GetStatus")->status, 200);
}

TEST_F(HttpApiTest, WithoutTheDashboardTheRootExplainsHowToGetIt) {
  Start({.dashboard_dir = harness_.dir() + "/nowhere"});
  httplib::Result r = client_->Get("/live");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(r->body.find("NETGUARD_DASHBOARD"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("/api/v1"), std::string::npos) << r->body;
}

TEST(HttpApiStartTest, NonLoopbackWithoutTlsOrTokenIsRefused) {
  ApiHarness harness;
  EXPECT_THROW(
      api::HttpApi({.address = "0.0.0.0:0", .token = kToken}, harness.server().InProcessChannel()),
      api::ApiError);
  EXPECT_THROW(api::HttpApi({.address = "0.0.0.0:0", .tls_cert = "/x.pem", .tls_key = "/y.pem"},
                            harness.server().InProcessChannel()),
               api::ApiError);
  EXPECT_THROW(api::HttpApi({.address = "127.0.0.1:notaport"}, harness.server().InProcessChannel()),
               api::ApiError);
  // The address in use.
  api::HttpApi first({.address = "127.0.0.1:0"}, harness.server().InProcessChannel());
  EXPECT_THROW(api::HttpApi({.address = "127.0.0.1:" + std::to_string(first.port())},
                            harness.server().InProcessChannel()),
               api::ApiError);
}

// A SIGTERM during start-up stops the listener right after it was started: that must not hang
// (httplib ignores stop() until its listen loop runs). ctest's timeout catches a hang.
TEST(HttpApiStartTest, StopRightAfterStartReturns) {
  ApiHarness harness;
  for (int i = 0; i < 50; ++i) {
    api::HttpApi http({.address = "127.0.0.1:0"}, harness.server().InProcessChannel());
    http.Stop();
  }
}

TEST(HttpApiStartTest, NonLoopbackServesHttpsAndWantsTheTokenForReadsToo) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "openssl is not installed: cannot make a test certificate";
  }
  ApiHarness harness;
  const std::string dir = harness.dir();
  ASSERT_EQ(std::system(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                         "-nodes -days 1 -subj /CN=localhost -keyout " +
                         dir + "/key.pem -out " + dir + "/cert.pem >/dev/null 2>&1")
                            .c_str()),
            0);
  api::HttpApi http({.address = "0.0.0.0:0",
                     .token = kToken,
                     .tls_cert = dir + "/cert.pem",
                     .tls_key = dir + "/key.pem"},
                    harness.server().InProcessChannel());
  httplib::SSLClient client("127.0.0.1", http.port());
  client.set_ca_cert_path((dir + "/cert.pem").c_str());
  client.enable_server_certificate_verification(false);  // CN localhost, dialled by address
  httplib::Result anonymous = client.Get("/api/v1/GetStatus");
  ASSERT_TRUE(anonymous) << httplib::to_string(anonymous.error());
  EXPECT_EQ(anonymous->status, 401);
  httplib::Result with_token =
      client.Get("/api/v1/GetStatus", {{"Authorization", std::string("Bearer ") + kToken}});
  ASSERT_TRUE(with_token);
  EXPECT_EQ(with_token->status, 200);
  // Plain HTTP on the TLS port gets nothing useful.
  httplib::Client plain("127.0.0.1", http.port());
  httplib::Result r = plain.Get("/api/v1/GetStatus");
  EXPECT_TRUE(!r || r->status != 200);
}

}  // namespace
}  // namespace netguard::testing
