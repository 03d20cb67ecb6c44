// ApiServer (agent/api/server.*): the unix socket (mode, group, stale and live sockets), the TLS
// listener with its bearer token, health checking, reflection, and shutdown ending streams.
#include <google/protobuf/unknown_field_set.h>
#include <grp.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "api/server.h"
#include "api/service.h"
#include "api_harness.h"

namespace netguard::testing {
namespace {

using std::chrono::system_clock;

std::unique_ptr<grpc::ClientContext> Context(int seconds = 10) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(system_clock::now() + std::chrono::seconds(seconds));
  return context;
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string out;
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// Waits for the completion of `tag` on `cq`.
bool Await(grpc::CompletionQueue& cq, void* tag) {
  void* got = nullptr;
  bool ok = false;
  EXPECT_TRUE(cq.Next(&got, &ok));
  EXPECT_EQ(got, tag);
  return ok;
}

// grpc.health.v1.Health/Check for `service` through the generic stub (no generated health
// code is installed). Returns the HealthCheckResponse.status enum value, -1 on error.
int HealthStatus(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  std::string request;
  if (!service.empty())
    request = std::string("\x0a", 1) + static_cast<char>(service.size()) + service;
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(system_clock::now() + std::chrono::seconds(10));
  auto call =
      stub.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check", ToBuffer(request), &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, &cq);
  Await(cq, &cq);
  if (!status.ok()) return -1;
  google::protobuf::UnknownFieldSet fields;
  if (!fields.ParseFromString(FromBuffer(response))) return -1;
  for (int i = 0; i < fields.field_count(); ++i) {
    if (fields.field(i).number() == 1) return static_cast<int>(fields.field(i).varint());
  }
  return 0;  // UNKNOWN is the default, omitted on the wire
}

// The services listed by grpc.reflection.v1alpha.ServerReflection (list_services).
std::vector<std::string> ReflectedServices(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(system_clock::now() + std::chrono::seconds(10));
  int tags[5];
  auto call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  call->StartCall(&tags[0]);
  EXPECT_TRUE(Await(cq, &tags[0]));
  call->Write(ToBuffer(std::string("\x3a\x00", 2)), &tags[1]);  // list_services: ""
  EXPECT_TRUE(Await(cq, &tags[1]));
  call->WritesDone(&tags[2]);
  EXPECT_TRUE(Await(cq, &tags[2]));
  grpc::ByteBuffer response;
  call->Read(&response, &tags[3]);
  const bool read = Await(cq, &tags[3]);
  grpc::Status status;
  call->Finish(&status, &tags[4]);
  Await(cq, &tags[4]);
  EXPECT_TRUE(read);
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::vector<std::string> names;
  google::protobuf::UnknownFieldSet message;
  if (!read || !message.ParseFromString(FromBuffer(response))) return names;
  for (int i = 0; i < message.field_count(); ++i) {
    if (message.field(i).number() != 6) continue;  // list_services_response
    google::protobuf::UnknownFieldSet list;
    list.ParseFromString(message.field(i).length_delimited());
    for (int j = 0; j < list.field_count(); ++j) {
      google::protobuf::UnknownFieldSet service;
      service.ParseFromString(list.field(j).length_delimited());
      for (int k = 0; k < service.field_count(); ++k) {
        if (service.field(k).number() == 1) names.push_back(service.field(k).length_delimited());
      }
    }
  }
  return names;
}

TEST(ApiServerTest, SocketIsMode0660AndBelongsToTheConfiguredGroup) {
  const group* own = getgrgid(getegid());
  ASSERT_NE(own, nullptr);
  ApiHarness h({.socket_group = own->gr_name});
  struct stat st {};
  ASSERT_EQ(lstat(h.socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_EQ(st.st_gid, getegid());
  // The parent directory was created 0755.
  ASSERT_EQ(stat((h.dir() + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST(ApiServerTest, MissingGroupKeepsTheSocketOwnerOnly) {
  ApiHarness h({.socket_group = "netguard-no-such-group"});
  struct stat st {};
  ASSERT_EQ(lstat(h.socket_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_EQ(st.st_gid, getegid());
  v1::Status status;
  EXPECT_TRUE(h.Stub()->GetStatus(Context().get(), v1::GetStatusRequest(), &status).ok());
}

TEST(ApiServerTest, StaleSocketIsReplacedLiveOneIsRefused) {
  ApiHarness h;
  // A second server on the live socket refuses to start and leaves the first one serving.
  config::ApiConfig config{.socket = h.socket_path(), .socket_group = "", .tcp = std::nullopt};
  EXPECT_THROW(api::EnsureSocketFree(h.socket_path()), api::ApiError);  // the agent's pre-flight
  EXPECT_THROW({ api::ApiServer second(config, nullptr); }, api::ApiError);
  v1::Status status;
  EXPECT_TRUE(h.Stub()->GetStatus(Context().get(), v1::GetStatusRequest(), &status).ok());

  // A stale socket file (bound, nobody listening) is removed.
  h.StopServer();
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, h.socket_path().c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
  ASSERT_EQ(access(h.socket_path().c_str(), F_OK), 0);
  EXPECT_NO_THROW(api::EnsureSocketFree(h.socket_path()));
  h.RestartServer();
  EXPECT_TRUE(h.Stub()->GetStatus(Context().get(), v1::GetStatusRequest(), &status).ok());

  // A regular file in the way is an error, not deleted.
  h.StopServer();
  std::ofstream(h.socket_path()) << "not a socket";
  EXPECT_THROW(h.RestartServer(), api::ApiError);
  EXPECT_EQ(access(h.socket_path().c_str(), F_OK), 0);
}

TEST(ApiServerTest, InsecureTcpOnlyOnLoopback) {
  ApiHarness h;
  h.StopServer();
  config::TcpListenerConfig tcp;
  tcp.address = "0.0.0.0:0";
  tcp.insecure = true;
  config::ApiConfig config{.socket = h.dir() + "/other.sock", .socket_group = "", .tcp = tcp};
  EXPECT_THROW({ api::ApiServer insecure(config, nullptr); }, api::ApiError);
}

TEST(ApiServerTest, HealthIsServingAndReflectionListsTheService) {
  ApiHarness h;
  EXPECT_EQ(HealthStatus(h.Channel(), ""), 1);  // SERVING
  EXPECT_EQ(HealthStatus(h.Channel(), "netguard.v1.NetGuard"), 1);
  const std::vector<std::string> services = ReflectedServices(h.Channel());
  EXPECT_NE(std::find(services.begin(), services.end(), "netguard.v1.NetGuard"), services.end())
      << ::testing::PrintToString(services);
}

TEST(ApiServerTest, ShutdownEndsOpenStreamsPromptly) {
  ApiHarness h;
  const int64_t first = h.AddAlert(ApiHarness::MakeAlert(1));
  h.AddAlert(ApiHarness::MakeAlert(2));
  auto stub = h.Stub();
  auto context = Context(30);
  v1::StreamAlertsRequest request;
  request.set_resume_after_id(first);
  auto reader = stub->StreamAlerts(context.get(), request);
  v1::Alert alert;
  ASSERT_TRUE(reader->Read(&alert));  // the handler runs
  const auto start = std::chrono::steady_clock::now();
  h.StopServer();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_FALSE(reader->Read(&alert));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(access(h.socket_path().c_str(), F_OK), 0) << "socket file left behind";
}

// A self-signed certificate for localhost/127.0.0.1 made with the openssl CLI.
bool MakeCertificate(const std::string& dir) {
  const std::string command =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
      "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
      dir + "/key.pem -out " + dir + "/cert.pem >/dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(ApiServerTest, TlsListenerRequiresTheBearerToken) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "openssl is not installed: cannot make a test certificate";
  }
  TempDir tls;
  ASSERT_TRUE(MakeCertificate(tls.path()));
  std::ofstream(tls.path() + "/token") << "s3cret-token\n";
  ASSERT_EQ(chmod((tls.path() + "/token").c_str(), 0600), 0);
  config::TcpListenerConfig tcp;
  tcp.address = "127.0.0.1:0";
  tcp.tls_cert = tls.path() + "/cert.pem";
  tcp.tls_key = tls.path() + "/key.pem";
  tcp.token_file = tls.path() + "/token";
  ApiHarness h({.tcp = tcp});
  ASSERT_GT(h.server().tcp_port(), 0);
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadAll(tls.path() + "/cert.pem");
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(h.server().tcp_port()),
                                     grpc::SslCredentials(ssl));
  auto stub = v1::NetGuard::NewStub(channel);
  v1::Status status;

  auto none = Context();
  grpc::Status s = stub->GetStatus(none.get(), v1::GetStatusRequest(), &status);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();

  auto wrong = Context();
  wrong->AddMetadata("authorization", "Bearer s3cret-tokeN");
  s = stub->GetStatus(wrong.get(), v1::GetStatusRequest(), &status);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();

  auto right = Context();
  right->AddMetadata("authorization", "Bearer s3cret-token");
  s = stub->GetStatus(right.get(), v1::GetStatusRequest(), &status);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(status.version(), "9.9.9-test");

  // Streams are checked too.
  auto stream_context = Context();
  auto reader = stub->StreamAlerts(stream_context.get(), v1::StreamAlertsRequest());
  v1::Alert alert;
  EXPECT_FALSE(reader->Read(&alert));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // The unix socket needs no token.
  EXPECT_TRUE(h.Stub()->GetStatus(Context().get(), v1::GetStatusRequest(), &status).ok());

  // ngctl over TLS with --ca-cert and --token-file.
  const std::string addr = "127.0.0.1:" + std::to_string(h.server().tcp_port());
  CommandResult r = RunNgctl({"--addr", addr, "--ca-cert", tls.path() + "/cert.pem", "--token-file",
                              tls.path() + "/token", "-o", "json", "status"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("9.9.9-test"), std::string::npos) << r.out;
  r = RunNgctl({"--addr", addr, "--ca-cert", tls.path() + "/cert.pem", "status"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("UNAUTHENTICATED"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace netguard::testing
