#include "client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace netguard::ctl {
namespace {

constexpr auto kUnaryDeadline = std::chrono::seconds(30);

std::string ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw CommandError(kExitUsage,
                       "ngctl: cannot read the " + what + " " + path + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  const auto last = s.find_last_not_of(" \t\r\n");
  return first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
}

// connect(2) on the unix socket: "" when it accepts, else the reason (strerror).
std::string ProbeUnixSocket(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) return "the socket path is too long";
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::strerror(errno);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  std::string reason;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    reason = std::strerror(errno);
  }
  close(fd);
  return reason;
}

}  // namespace

std::string StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "CODE_" + std::to_string(static_cast<int>(code));
  }
}

Client::Client(Target target) : target_(std::move(target)) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);  // a ListAlerts page of 10000 with evidence
  // After the agent restarts, `--follow` reconnects within a second instead of waiting out
  // gRPC's default channel backoff (up to 120 s) on top of its own.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string uri;
  if (target_.addr.empty()) {
    uri = "unix:" + target_.socket;
    credentials = grpc::InsecureChannelCredentials();
  } else {
    uri = target_.addr;
    if (target_.insecure) {
      credentials = grpc::InsecureChannelCredentials();
    } else {
      grpc::SslCredentialsOptions ssl;
      if (!target_.ca_cert.empty())
        ssl.pem_root_certs = ReadFile(target_.ca_cert, "CA certificate");
      credentials = grpc::SslCredentials(ssl);
      if (!target_.token_file.empty()) {
        const std::string token = Trim(ReadFile(target_.token_file, "token file"));
        if (token.empty()) {
          throw CommandError(kExitUsage,
                             "ngctl: the token file " + target_.token_file + " is empty");
        }
        credentials =
            grpc::CompositeChannelCredentials(credentials, grpc::AccessTokenCredentials(token));
      }
    }
  }
  channel_ = grpc::CreateCustomChannel(uri, credentials, args);
  stub_ = v1::NetGuard::NewStub(channel_);
}

std::string Client::Describe() const {
  return target_.addr.empty() ? target_.socket : target_.addr;
}

CommandError Client::Unreachable(const std::string& reason) const {
  const std::string hint = target_.addr.empty()
                               ? "is it running? are you in the netguard group?"
                               : "is it running? check --addr, --ca-cert and --token-file";
  return CommandError(kExitUnreachable, "ngctl: cannot reach netguardd at " + Describe() + ": " +
                                            reason + " (" + hint + ")");
}

void Client::Connect(std::chrono::milliseconds timeout) {
  if (target_.addr.empty()) {
    const std::string reason = ProbeUnixSocket(target_.socket);
    if (!reason.empty()) throw Unreachable(reason);
  }
  if (channel_->WaitForConnected(std::chrono::system_clock::now() + timeout)) return;
  // No connection: one fail-fast call tells why (refused, TLS handshake, name resolution).
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  v1::Status ignored;
  const grpc::Status status = stub_->GetStatus(&context, v1::GetStatusRequest(), &ignored);
  if (status.ok()) return;
  std::string reason = status.error_message();
  if (reason.empty() || status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    reason = "no connection within " + std::to_string(timeout.count()) + " ms";
  }
  throw Unreachable(reason);
}

std::unique_ptr<grpc::ClientContext> Client::UnaryContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + kUnaryDeadline);
  return context;
}

std::unique_ptr<grpc::ClientContext> Client::StreamContext() const {
  return std::make_unique<grpc::ClientContext>();
}

CommandError Client::Failure(const grpc::Status& status) const {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return Unreachable(status.error_message());
  }
  return CommandError(kExitAgentError, "ngctl: " + StatusCodeName(status.error_code()) + ": " +
                                           status.error_message());
}

}  // namespace netguard::ctl
