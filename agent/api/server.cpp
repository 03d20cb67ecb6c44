#include "api/server.h"

#include <arpa/inet.h>
#include <grp.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/auth_metadata_processor.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "api/service.h"

namespace netguard::api {
namespace {

namespace fs = std::filesystem;

constexpr char kServiceName[] = "netguard.v1.NetGuard";

std::string Errno(int err) { return std::strerror(err); }

// Reads a whole file (TLS material, token); ApiError names what it is for.
std::string ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ApiError("cannot read the " + what + " " + path + ": " + Errno(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string ReadToken(const std::string& path) {
  std::string token = ReadFile(path, "token file");
  const auto first = token.find_first_not_of(" \t\r\n");
  const auto last = token.find_last_not_of(" \t\r\n");
  token = first == std::string::npos ? std::string() : token.substr(first, last - first + 1);
  if (token.empty()) throw ApiError("the token file " + path + " is empty");
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & 0077) != 0) {
    spdlog::warn("the API token file {} is readable by group or others (chmod 600 it)", path);
  }
  return token;
}

// Accepts a call on the TLS listener only with `authorization: Bearer <token>`.
class BearerTokenProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit BearerTokenProcessor(const std::string& token) : expected_("Bearer " + token) {}

  bool IsBlocking() const override { return false; }  // a comparison: no need for a thread

  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext*, OutputMetadata* consumed,
                       OutputMetadata*) override {
    const auto it = metadata.find("authorization");
    if (it == metadata.end()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "missing bearer token (authorization metadata)");
    }
    const std::string_view presented(it->second.data(), it->second.size());
    if (!ConstantTimeEquals(presented, expected_)) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token");
    }
    consumed->emplace("authorization", std::string(presented));  // the service never sees it
    return grpc::Status::OK;
  }

 private:
  const std::string expected_;
};

// True when something accepts connections on the unix socket `path`.
bool SocketIsLive(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const bool live = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return live;
}

// Creates the socket's directory and removes a stale socket file. Throws ApiError.
void PrepareSocketPath(const std::string& path) {
  if (path.empty()) throw ApiError("api.socket is empty");
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    throw ApiError("the socket path " + path + " is longer than " +
                   std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
  }
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::exists(parent, ec)) {
    fs::create_directories(parent, ec);
    if (ec) throw ApiError("cannot create " + parent.string() + ": " + ec.message());
    fs::permissions(parent, fs::perms(0755), ec);
  }
  EnsureSocketFree(path);
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return;  // nothing there
  if (unlink(path.c_str()) != 0) {
    throw ApiError("cannot remove the stale socket " + path + ": " + Errno(errno));
  }
  spdlog::info("removed the stale socket {}", path);
}

// 0660, group `group` when it exists.
void RestrictSocket(const std::string& path, const std::string& group_name) {
  if (chmod(path.c_str(), 0660) != 0) {
    throw ApiError("cannot chmod 0660 " + path + ": " + Errno(errno));
  }
  if (group_name.empty()) return;
  struct group entry {};
  struct group* found = nullptr;
  std::vector<char> scratch(16384);
  if (getgrnam_r(group_name.c_str(), &entry, scratch.data(), scratch.size(), &found) != 0 ||
      !found) {
    spdlog::warn(
        "group '{}' does not exist: {} stays accessible to root only (create it with "
        "`groupadd --system {}` and add ngctl users to it)",
        group_name, path, group_name);
    return;
  }
  if (chown(path.c_str(), static_cast<uid_t>(-1), found->gr_gid) != 0) {
    spdlog::warn("cannot give {} to group '{}': {}; it stays accessible to its owner only", path,
                 group_name, Errno(errno));
  }
}

std::shared_ptr<grpc::ServerCredentials> TcpCredentials(const config::TcpListenerConfig& tcp) {
  if (tcp.insecure) {
    if (!IsLoopbackAddress(tcp.address)) {
      throw ApiError("api.tcp.insecure is only allowed on a loopback address, not " + tcp.address);
    }
    spdlog::warn("API on {} is plaintext without a token (api.tcp.insecure)", tcp.address);
    return grpc::InsecureServerCredentials();
  }
  if (tcp.tls_cert.empty() || tcp.tls_key.empty() || tcp.token_file.empty()) {
    throw ApiError("api.tcp needs tls_cert, tls_key and token_file (or insecure on loopback)");
  }
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({.private_key = ReadFile(tcp.tls_key, "TLS key"),
                                        .cert_chain = ReadFile(tcp.tls_cert, "TLS certificate")});
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::SslServerCredentials(options);
  credentials->SetAuthMetadataProcessor(
      std::make_shared<BearerTokenProcessor>(ReadToken(tcp.token_file)));
  return credentials;
}

}  // namespace

void EnsureSocketFree(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return;  // nothing there
  if (!S_ISSOCK(st.st_mode)) {
    throw ApiError(path + " exists and is not a socket; remove it or choose another api.socket");
  }
  if (SocketIsLive(path)) {
    throw ApiError("another process already serves " + path + " (is netguardd running?)");
  }
}

bool IsLoopbackAddress(std::string_view host_port) {
  std::string host;
  if (!host_port.empty() && host_port.front() == '[') {
    const size_t close = host_port.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(host_port.substr(1, close - 1));
  } else {
    host = std::string(host_port.substr(0, host_port.rfind(':')));
  }
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Walks the longer input whatever the contents; a length mismatch is folded into `diff`.
  const size_t n = std::max(a.size(), b.size());
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

ApiServer::ApiServer(const config::ApiConfig& config, std::unique_ptr<NetGuardService> service)
    : service_(std::move(service)), socket_path_(config.socket) {
  PrepareSocketPath(socket_path_);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_path_, grpc::InsecureServerCredentials());
  if (config.tcp)
    builder.AddListeningPort(config.tcp->address, TcpCredentials(*config.tcp), &tcp_port_);
  builder.RegisterService(service_.get());
  grpc::ResourceQuota quota("netguard-api");
  quota.SetMaxThreads(128);  // a stream holds a thread: bounds what many clients can take
  builder.SetResourceQuota(quota);

  // The socket is created by bind() inside BuildAndStart: a umask that leaves at most 0660 keeps
  // it closed to others until RestrictSocket below (process-wide, but only ever stricter).
  const mode_t old_umask = umask(0117);
  server_ = builder.BuildAndStart();
  umask(old_umask);
  if (!server_) {
    throw ApiError("gRPC could not listen on unix:" + socket_path_ +
                   (config.tcp ? " and " + config.tcp->address : std::string()) +
                   " (address in use or not permitted; gRPC logged the cause)");
  }
  try {
    RestrictSocket(socket_path_, config.socket_group);
  } catch (...) {
    Shutdown(std::chrono::milliseconds(0));
    throw;
  }
  server_->GetHealthCheckService()->SetServingStatus(kServiceName, true);
  spdlog::info("API listening on unix:{}{}", socket_path_,
               config.tcp ? fmt::format(" and {} (port {}, {})", config.tcp->address, tcp_port_,
                                        config.tcp->insecure ? "plaintext" : "TLS + token")
                          : std::string());
}

ApiServer::~ApiServer() { Shutdown(); }

std::shared_ptr<grpc::Channel> ApiServer::InProcessChannel() {
  return server_->InProcessChannel(grpc::ChannelArguments());
}

std::string ReadApiToken(const std::string& path) { return ReadToken(path); }

void ApiServer::Shutdown(std::chrono::milliseconds grace) {
  if (!server_) return;
  service_->BeginShutdown();
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->Shutdown();  // NOT_SERVING, and Watch streams end
  }
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
  server_.reset();
  struct stat st {};
  if (lstat(socket_path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(socket_path_.c_str());
  spdlog::info("API stopped");
}

}  // namespace netguard::api
