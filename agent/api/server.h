// ApiServer: serves NetGuardService over gRPC on the unix socket and, optionally, on a TCP
// listener protected by TLS and a bearer token.
#ifndef NETGUARD_AGENT_API_SERVER_H_
#define NETGUARD_AGENT_API_SERVER_H_

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "config/config.h"

namespace grpc {
class Channel;
class Server;
}  // namespace grpc

namespace netguard::api {

class NetGuardService;

/// The API could not start (socket path, TLS files, token file, address in use...).
class ApiError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The gRPC server of the agent. Listeners:
/// - `unix:<config.socket>`: the parent directory is created (0755) when missing, a stale socket
///   file is removed (a live one, i.e. another agent, is an error), and once listening the
///   socket is chmod 0660 and chowned to `config.socket_group` when that group exists (else a
///   warning: root only).
/// - `config.tcp` (optional): TLS from tls_cert/tls_key with every call required to carry
///   `authorization: Bearer <token file contents>` (UNAUTHENTICATED otherwise); or plaintext
///   without a token when `insecure` and the address is loopback.
/// Health checking (grpc.health.v1, "" and "netguard.v1.NetGuard" SERVING) and server reflection
/// are on.
class ApiServer {
 public:
  /// Builds and starts the server. Throws ApiError.
  ApiServer(const config::ApiConfig& config, std::unique_ptr<NetGuardService> service);
  /// Shutdown() with the default grace period.
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  /// Ends open streams (UNAVAILABLE), lets running calls finish for up to `grace`, then cancels
  /// what is left and removes the socket file. Idempotent.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::seconds(2));

  /// The unix socket path.
  const std::string& socket_path() const { return socket_path_; }
  /// A channel to this server that needs no socket and no credentials (the HTTP face's way in).
  std::shared_ptr<grpc::Channel> InProcessChannel();
  /// The TCP port actually bound (useful with port 0), 0 without a TCP listener.
  int tcp_port() const { return tcp_port_; }

 private:
  std::unique_ptr<NetGuardService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string socket_path_;
  int tcp_port_ = 0;
};

/// Start-up pre-flight: throws ApiError when another process already serves the unix socket
/// `path` (e.g. a running netguardd) or something that is not a socket is in the way. Changes
/// nothing; a stale socket file is accepted (ApiServer removes it).
void EnsureSocketFree(const std::string& path);

/// True when `host_port` ("127.0.0.1:50051", "[::1]:1", "localhost:8080") names a loopback
/// address.
bool IsLoopbackAddress(std::string_view host_port);

/// The API token in the file `path`, whitespace trimmed (a warning when group or others may read
/// it). Throws ApiError when it cannot be read or is empty.
std::string ReadApiToken(const std::string& path);

/// Compares two secrets in time that depends only on their lengths, not on their contents.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace netguard::api

#endif  // NETGUARD_AGENT_API_SERVER_H_
