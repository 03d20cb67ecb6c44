#include "api_harness.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "api/service.h"
#include "common/clock.h"
#include "netguard.h"

#ifndef NGCTL_PATH
#error "NGCTL_PATH must name the built ngctl binary"
#endif

namespace netguard::testing {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

TempDir::TempDir() {
  // Short and under /tmp: a unix socket path must fit in 108 bytes.
  std::string templ = "/tmp/ngapi.XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

TestBlockMaps::TestBlockMaps() {
  LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
  v4_ = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "ng_block_v4", sizeof(ng_lpm_v4),
                       sizeof(ng_block_counters), 1024, &opts);
  if (v4_ < 0) {
    error_ = std::string("bpf_map_create: ") + std::strerror(errno) + " (needs root or CAP_BPF)";
    return;
  }
  v6_ = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "ng_block_v6", sizeof(ng_lpm_v6),
                       sizeof(ng_block_counters), 1024, &opts);
  if (v6_ < 0) error_ = std::string("bpf_map_create: ") + std::strerror(errno);
}

TestBlockMaps::~TestBlockMaps() {
  if (v4_ >= 0) close(v4_);
  if (v6_ >= 0) close(v6_);
}

ApiHarness::ApiHarness(HarnessOptions options) : options_(std::move(options)) {
  socket_path_ = dir_.path() + "/run/netguard.sock";
  store_ = std::make_unique<store::Store>(
      store::StoreOptions{.path = dir_.path() + "/netguard.db", .max_flows = 100000});
  status_.version = "9.9.9-test";
  status_.started_ns = WallNowNs() - 5'000'000'000;
  status_.interfaces.push_back({.name = "veth-test",
                                .ifindex = 7,
                                .backend = "ebpf",
                                .xdp_mode = "generic",
                                .tc_egress = true});
  status_.counters = {{"xdp_packets", 1234}, {"alerts", 3}};
  status_.ring_drops = 2;
  status_.stored_flows = 11;
  status_.active_blocks = 1;
  if (options_.with_blocks && maps_.ok()) {
    kernel_ = std::make_unique<capture::Blocklist>(maps_.v4_fd(), maps_.v6_fd());
    blocks_ = std::make_unique<respond::BlockManager>(
        *store_, *kernel_, respond::BlockPolicy{.allowlist = options_.allowlist});
  }
  StartServer();
}

ApiHarness::~ApiHarness() { StopServer(); }

void ApiHarness::StartServer() {
  config::ApiConfig config;
  config.socket = socket_path_;
  config.socket_group = options_.socket_group;
  config.tcp = options_.tcp;
  auto service = std::make_unique<api::NetGuardService>(
      [this] { return status_; }, *store_, blocks_.get(), notifier_,
      api::ServiceOptions{.stream_poll = std::chrono::milliseconds(50), .stream_batch = 4});
  service->set_reputation(reputation_);
  service->SetModelSlot(options_.models);
  service->set_country_lookup(options_.countries);
  server_ = std::make_unique<api::ApiServer>(config, std::move(service));
}

void ApiHarness::StopServer() {
  if (server_) server_->Shutdown(std::chrono::seconds(2));
  server_.reset();
}

void ApiHarness::UseReputation(const respond::Reputation* reputation) {
  StopServer();
  reputation_ = reputation;
  StartServer();
}

void ApiHarness::RestartServer() {
  StopServer();
  StartServer();
}

int64_t ApiHarness::AddAlert(Alert alert) {
  store_->AddAlert(alert);
  notifier_.PublishAlert(alert.id);
  return alert.id;
}

Alert ApiHarness::MakeAlert(int n) {
  Alert a;
  a.time_ns = 1'700'000'000'000'000'000 + static_cast<int64_t>(n) * 1'000'000'000;
  a.src_addr = "10.0.0." + std::to_string(n % 250);
  a.src_port = 40000;
  a.dst_addr = "192.0.2.1";
  a.dst_port = 0;
  a.protocol = 6;
  a.alert_class = "PortScan";
  a.score = 0.5;
  a.severity = Severity::kWarning;
  a.mitre_technique = "T1046";
  a.detector = "rule.port_scan";
  a.evidence_json = R"({"distinct_ports":30})";
  return a;
}

std::shared_ptr<grpc::Channel> ApiHarness::Channel() const {
  return grpc::CreateChannel("unix:" + socket_path_, grpc::InsecureChannelCredentials());
}

std::unique_ptr<v1::NetGuard::Stub> ApiHarness::Stub() const {
  return v1::NetGuard::NewStub(Channel());
}

CommandResult RunNgctl(const std::vector<std::string>& args) {
  TempDir out_dir;
  const std::string out = out_dir.path() + "/out";
  const std::string err = out_dir.path() + "/err";
  std::string command = ShellQuote(NGCTL_PATH);
  for (const std::string& a : args) command += " " + ShellQuote(a);
  command += " >" + out + " 2>" + err + " </dev/null";
  const int rc = std::system(command.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  result.out = ReadAll(out);
  result.err = ReadAll(err);
  return result;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace netguard::testing
