// Test harness of the gRPC API: NetGuardService served in-process by a real ApiServer on a unix
// socket in a temporary directory, over a real Store (temp file), a real StreamNotifier and,
// when asked, a BlockManager over real LPM-trie maps created for the test (needs root/CAP_BPF).
#ifndef NETGUARD_TESTS_UNIT_API_HARNESS_H_
#define NETGUARD_TESTS_UNIT_API_HARNESS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/server.h"
#include "capture/blocklist.h"
#include "common/ip_prefix.h"
#include "config/config.h"
#include "core/alert.h"
#include "core/status.h"
#include "netguard/v1/netguard.grpc.pb.h"
#include "pipeline/stream_notifier.h"
#include "respond/block_manager.h"
#include "respond/reputation.h"
#include "store/store.h"

namespace netguard::detect::ml {
class ModelSlot;
}
namespace netguard::geo {
class CountryLookup;
}

namespace netguard::testing {

/// A temporary directory, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// Two LPM tries shaped like the data plane's ng_block_v4 / ng_block_v6, closed on destruction.
class TestBlockMaps {
 public:
  /// Creates the maps; ok() is false (with error()) without the privileges to do so.
  TestBlockMaps();
  ~TestBlockMaps();
  TestBlockMaps(const TestBlockMaps&) = delete;
  TestBlockMaps& operator=(const TestBlockMaps&) = delete;
  bool ok() const { return v4_ >= 0 && v6_ >= 0; }
  const std::string& error() const { return error_; }
  int v4_fd() const { return v4_; }
  int v6_fd() const { return v6_; }

 private:
  int v4_ = -1;
  int v6_ = -1;
  std::string error_;
};

struct HarnessOptions {
  bool with_blocks = false;  // a BlockManager over TestBlockMaps (else the block RPCs refuse)
  std::vector<IpPrefix> allowlist{};
  std::string socket_group{};  // empty: no chown
  std::optional<config::TcpListenerConfig> tcp{};
  std::shared_ptr<detect::ml::ModelSlot> models{};        // the model RPCs' slot (null: disabled)
  std::shared_ptr<const geo::CountryLookup> countries{};  // LookupCountries' (null: none)
};

/// The store, notifier, block manager and a running ApiServer.
class ApiHarness {
 public:
  /// Starts everything; check blocks_ok() when with_blocks was asked.
  explicit ApiHarness(HarnessOptions options = {});
  ~ApiHarness();

  /// Maps creation failed (not root): the harness runs without blocks.
  bool blocks_ok() const { return blocks_ != nullptr; }
  const std::string& blocks_error() const { return maps_.error(); }

  store::Store& store() { return *store_; }
  pipeline::StreamNotifier& notifier() { return notifier_; }
  capture::Blocklist* kernel() { return kernel_.get(); }
  respond::BlockManager* blocks() { return blocks_.get(); }
  api::ApiServer& server() { return *server_; }
  const std::string& socket_path() const { return socket_path_; }
  const std::string& dir() const { return dir_.path(); }

  /// Stops the server (streams end) and starts a new one on the same socket and store.
  void RestartServer();
  /// Stops the server; the store and notifier stay.
  void StopServer();
  /// Restarts the server with GetIp answering from `reputation` (it must outlive the server;
  /// null: none).
  void UseReputation(const respond::Reputation* reputation);

  /// The status the service reports (fields set by the harness; editable).
  AgentStatus& status() { return status_; }

  /// Commits `alert` to the store and publishes it; returns its id.
  int64_t AddAlert(Alert alert);
  /// A plain alert: src 10.0.0.<n % 250>, class PortScan, severity warning, time base + n s.
  static Alert MakeAlert(int n);

  /// A channel and stub on the unix socket.
  std::shared_ptr<grpc::Channel> Channel() const;
  std::unique_ptr<v1::NetGuard::Stub> Stub() const;

 private:
  void StartServer();

  HarnessOptions options_;
  const respond::Reputation* reputation_ = nullptr;
  TempDir dir_;
  std::string socket_path_;
  AgentStatus status_;
  std::unique_ptr<store::Store> store_;
  pipeline::StreamNotifier notifier_;
  TestBlockMaps maps_;
  std::unique_ptr<capture::Blocklist> kernel_;
  std::unique_ptr<respond::BlockManager> blocks_;
  std::unique_ptr<api::ApiServer> server_;
};

/// What a command printed and how it exited.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs `ngctl` (the built binary) with `args` (shell-quoted here), waits for it.
CommandResult RunNgctl(const std::vector<std::string>& args);

/// Splits on '\n', dropping a trailing empty line.
std::vector<std::string> Lines(const std::string& text);

}  // namespace netguard::testing

#endif  // NETGUARD_TESTS_UNIT_API_HARNESS_H_
