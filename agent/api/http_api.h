// HttpApi: the agent's HTTP/JSON face and the dashboard's web server. Every /api/v1/<Method>
// call goes through RpcGateway to the gRPC service (no second implementation of any method);
// server-streaming methods become server-sent events.
#ifndef NETGUARD_AGENT_API_HTTP_API_H_
#define NETGUARD_AGENT_API_HTTP_API_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "config/config.h"

namespace grpc {
class Channel;
}
namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace netguard::api {

class RpcGateway;
struct GatewayMethod;

/// How the HTTP face listens and whom it lets change things.
struct HttpApiOptions {
  /// "127.0.0.1:8787", "[::1]:0", "0.0.0.0:8443" (port 0: any free port).
  std::string address = "127.0.0.1:8787";
  /// The dashboard's built files; empty or missing: / explains how to build it.
  std::string dashboard_dir;
  /// The API token (contents, not a path). Empty: changes are refused.
  std::string token;
  /// PEM files; required (with a token) on a non-loopback address.
  std::string tls_cert;
  std::string tls_key;
  /// A ": ping" comment on an idle event stream this often; a failed write ends the stream.
  std::chrono::milliseconds heartbeat{15000};
  /// Event streams open at once; more are refused with 503.
  size_t max_streams = 32;
};

/// The options from the configuration: `http` (address, dashboard_dir, tls_*) and the token from
/// http.token_file, else api.tcp.token_file. Throws ApiError when the token file is unreadable.
HttpApiOptions HttpOptionsFrom(const config::Config& config);

/// Routes (JSON bodies and replies use the protobuf JSON mapping of netguard.v1):
/// - `GET /api/v1`: the methods, each with `readOnly` and `streaming`.
/// - `POST /api/v1/<Method>` with the request as JSON (empty body: defaults); `GET` with the
///   request fields as query parameters for read-only methods (405 otherwise).
/// - server-streaming methods answer `text/event-stream`: one `data:` event per message with
///   `id:` = the message id; `Last-Event-ID` resumes (sets resume_after_id); the end of the
///   stream is an `end` event with the status.
/// - anything else: the dashboard's files, index.html for unknown paths (client-side routes).
/// Errors: the HTTP status for the gRPC code and {"code", "status", "message"}.
/// Auth: on a loopback listener reads need no token and every change (a method without
/// `idempotency_level = NO_SIDE_EFFECTS`) needs `Authorization: Bearer <token>`; a non-loopback
/// listener needs TLS and the token for everything. On loopback the Host header must be a
/// loopback name (no DNS rebinding).
class HttpApi {
 public:
  /// Binds and starts serving on its own threads. Throws ApiError (non-loopback without TLS or
  /// token, unreadable TLS files, address in use).
  HttpApi(HttpApiOptions options, std::shared_ptr<grpc::Channel> channel);
  /// Stop().
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  /// Ends open event streams, stops listening and waits for the request threads. Idempotent.
  void Stop();

  /// The port actually bound.
  int port() const { return port_; }
  /// Event streams open now (each holds a gRPC stream on the service).
  size_t open_streams() const { return open_streams_.load(); }

 private:
  void Route();
  void Dispatch(const httplib::Request& req, httplib::Response& res, bool get);
  void Stream(const GatewayMethod& method, const std::string& request,
              const std::string& last_event_id, httplib::Response& res);
  // True when the call may go on; else `res` holds the refusal.
  bool Authorized(const GatewayMethod& method, const httplib::Request& req,
                  httplib::Response& res) const;

  HttpApiOptions options_;
  bool loopback_ = true;
  std::unique_ptr<RpcGateway> gateway_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> open_streams_{0};
};

}  // namespace netguard::api

#endif  // NETGUARD_AGENT_API_HTTP_API_H_
