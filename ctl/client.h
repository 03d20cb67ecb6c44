// ngctl's connection to netguardd: unix socket or TCP (TLS + bearer token), exit codes and the
// errors that carry them.
#ifndef NETGUARD_CTL_CLIENT_H_
#define NETGUARD_CTL_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "netguard/v1/netguard.grpc.pb.h"

namespace netguard::ctl {

/// ngctl's exit codes.
enum ExitCode : int {
  kExitOk = 0,
  kExitAgentError = 1,  // the agent refused or failed the request
  kExitUsage = 2,       // bad command line
  kExitUnreachable = 3  // no connection to the agent
};

/// Ends the command with `code`; what() is the one line printed on stderr.
class CommandError : public std::runtime_error {
 public:
  /// `message` is the whole line, "ngctl: " included.
  CommandError(ExitCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

/// Where the agent is and how to authenticate.
struct Target {
  std::string socket = "/run/netguard/netguard.sock";
  std::string addr;        // HOST:PORT; when set, used instead of the socket
  std::string token_file;  // bearer token (TCP)
  std::string ca_cert;     // PEM CA that signed the agent's certificate (TCP; else system roots)
  bool insecure = false;   // plaintext TCP (the agent's api.tcp.insecure, loopback only)
};

/// A channel to netguardd and the stub on it.
class Client {
 public:
  /// Reads the token and CA files (CommandError kExitUsage when unreadable); does not connect.
  explicit Client(Target target);

  /// Waits up to `timeout` for a connection; CommandError kExitUnreachable (one line, with the
  /// reason) when there is none.
  void Connect(std::chrono::milliseconds timeout = std::chrono::seconds(2));

  /// The generated stub on the channel.
  v1::NetGuard::Stub& stub() { return *stub_; }

  /// A context for a unary call (with a deadline) or a stream (none).
  std::unique_ptr<grpc::ClientContext> UnaryContext() const;
  std::unique_ptr<grpc::ClientContext> StreamContext() const;

  /// The error for a failed call: UNAVAILABLE is kExitUnreachable, anything else
  /// kExitAgentError with the agent's message.
  CommandError Failure(const grpc::Status& status) const;

  /// "/run/netguard/netguard.sock" or "HOST:PORT".
  std::string Describe() const;

 private:
  CommandError Unreachable(const std::string& reason) const;

  Target target_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::NetGuard::Stub> stub_;
};

/// "UNAVAILABLE", "NOT_FOUND", ...
std::string StatusCodeName(grpc::StatusCode code);

}  // namespace netguard::ctl

#endif  // NETGUARD_CTL_CLIENT_H_
