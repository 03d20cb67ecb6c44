#include "api/http_api.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "api/rpc_gateway.h"
#include "api/server.h"

namespace netguard::api {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr char kJson[] = "application/json";
constexpr milliseconds kStreamPoll{250};  // how often a stream re-checks shutdown and its client

void SendError(httplib::Response& res, const grpc::Status& status) {
  res.status = HttpStatusFor(status.error_code());
  res.set_content(ErrorJson(status), kJson);
}

// Host and port of "host:port" / "[v6]:port". Throws ApiError.
std::pair<std::string, int> SplitAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  std::string host = colon == std::string::npos ? "" : address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = -1;
  const std::string port_text = colon == std::string::npos ? "" : address.substr(colon + 1);
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (host.empty() || port_text.empty() || ec != std::errc() ||
      end != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    throw ApiError("http.address: expected HOST:PORT, got '" + address + "'");
  }
  return {host, port};
}

// The Host header names this machine's loopback (a page of another site resolving its name to
// 127.0.0.1 does not).
bool LoopbackHost(const std::string& host_header) {
  if (host_header.empty()) return true;  // HTTP/1.0 clients
  const bool has_port = host_header.back() != ']' && host_header.find(':') != std::string::npos &&
                        host_header.find(':') == host_header.rfind(':');
  std::string host_port = host_header;
  if (!has_port && host_header.front() != '[') host_port += ":0";
  if (host_header.front() == '[' && host_header.back() == ']') host_port += ":0";
  return IsLoopbackAddress(host_port);
}

// The state of one event stream, shared by httplib's provider and releaser.
struct SseState {
  SseState(std::unique_ptr<GatewayStream> s, std::atomic<size_t>& open)
      : stream(std::move(s)), open_streams(open) {}
  ~SseState() {
    stream.reset();  // cancels the gRPC call: the service's stream loop ends
    open_streams.fetch_sub(1);
  }
  std::unique_ptr<GatewayStream> stream;
  std::atomic<size_t>& open_streams;
  std::string pending;   // events read before the response started
  bool started = false;  // the first provider call writes `pending`
  bool ended = false;
  std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
};

std::string Event(int64_t id, const std::string& json) {
  return (id != 0 ? "id: " + std::to_string(id) + "\n" : std::string()) + "data: " + json + "\n\n";
}

std::string EndEvent(const grpc::Status& status) {
  return "event: end\ndata: " + ErrorJson(status) + "\n\n";
}

}  // namespace

HttpApiOptions HttpOptionsFrom(const config::Config& config) {
  HttpApiOptions o;
  o.address = config.http.address;
  o.dashboard_dir = config.http.dashboard_dir;
  o.tls_cert = config.http.tls_cert;
  o.tls_key = config.http.tls_key;
  std::string token_file = config.http.token_file;
  if (token_file.empty() && config.api.tcp) token_file = config.api.tcp->token_file;
  if (!token_file.empty()) o.token = ReadApiToken(token_file);
  return o;
}

HttpApi::HttpApi(HttpApiOptions options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)), gateway_(std::make_unique<RpcGateway>(std::move(channel))) {
  loopback_ = IsLoopbackAddress(options_.address);
  const bool tls = !options_.tls_cert.empty() || !options_.tls_key.empty();
  if (!loopback_ && (!tls || options_.token.empty())) {
    throw ApiError("http.address " + options_.address +
                   " is not loopback: it needs http.tls_cert, http.tls_key and a token file "
                   "(http.token_file or api.tcp.token_file)");
  }
  const auto [host, port] = SplitAddress(options_.address);
  if (tls) {
    if (options_.tls_cert.empty() || options_.tls_key.empty()) {
      throw ApiError("http: TLS needs both tls_cert and tls_key");
    }
    auto ssl =
        std::make_unique<httplib::SSLServer>(options_.tls_cert.c_str(), options_.tls_key.c_str());
    if (!ssl->is_valid()) {
      throw ApiError("http: cannot load the TLS certificate " + options_.tls_cert + " and key " +
                     options_.tls_key);
    }
    server_ = std::move(ssl);
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  const size_t threads = options_.max_streams + 8;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_payload_max_length(1 << 20);
  // SO_REUSEADDR only: httplib's default SO_REUSEPORT would let a second agent share the port.
  server_->set_socket_options([](socket_t sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  Route();
  port_ =
      port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (port_ <= 0) {
    throw ApiError("http: cannot listen on " + options_.address + " (address in use?)");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // httplib's stop() does nothing until the listen loop has started, so a Stop() right after
  // start-up (a SIGTERM during start) would leave the thread listening and the join hanging.
  for (int i = 0; i < 5000 && !server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  spdlog::info("HTTP API and dashboard on {}://{} (port {}){}", tls ? "https" : "http",
               options_.address, port_,
               options_.token.empty() ? "; no token configured: changes are refused" : "");
}

HttpApi::~HttpApi() { Stop(); }

void HttpApi::Stop() {
  if (!server_) return;
  stopping_.store(true);
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

void HttpApi::Route() {
  httplib::Server& s = *server_;
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (loopback_ && !LoopbackHost(req.get_header_value("Host"))) {
      SendError(res,
                grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                             "Host '" + req.get_header_value("Host") + "' is not a loopback name"));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  s.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr e) {
        std::string what = "unknown error";
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          what = ex.what();
        } catch (...) {
        }
        spdlog::error("HTTP API: {}", what);
        SendError(res, grpc::Status(grpc::StatusCode::INTERNAL, what));
      });
  s.Get(R"(/api/v1/?)", [this](const httplib::Request&, httplib::Response& res) {
    nlohmann::json methods = nlohmann::json::array();
    for (const GatewayMethod& m : gateway_->methods()) {
      methods.push_back(
          {{"name", m.name}, {"readOnly", m.read_only}, {"streaming", m.server_streaming}});
    }
    res.set_content(nlohmann::json{{"methods", methods}}.dump(), kJson);
  });
  const char* method_path = R"(/api/v1/([A-Za-z0-9]+))";
  s.Get(method_path, [this](const httplib::Request& req, httplib::Response& res) {
    Dispatch(req, res, /*get=*/true);
  });
  s.Post(method_path, [this](const httplib::Request& req, httplib::Response& res) {
    Dispatch(req, res, /*get=*/false);
  });
  const auto not_an_api = [](const httplib::Request& req, httplib::Response& res) {
    SendError(res, grpc::Status(grpc::StatusCode::NOT_FOUND,
                                req.method + " " + req.path +
                                    ": no such API path (GET /api/v1 lists the methods)"));
  };
  const auto wrong_verb = [](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Allow", "GET, POST");
    SendError(res, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                req.method + " is not supported: use GET or POST"));
    res.status = 405;
  };
  s.Get(R"(/api/.*)", not_an_api);
  s.Post(R"(/api/.*)", not_an_api);
  s.Put(R"(/api/.*)", wrong_verb);
  s.Delete(R"(/api/.*)", wrong_verb);
  s.Patch(R"(/api/.*)", wrong_verb);

  // The dashboard: its files, and index.html for the client-side routes.
  std::error_code ec;
  const fs::path index = fs::path(options_.dashboard_dir) / "index.html";
  if (!options_.dashboard_dir.empty() && fs::exists(index, ec)) {
    s.set_mount_point("/", options_.dashboard_dir);
    s.Get(R"(/.*)", [index](const httplib::Request& req, httplib::Response& res) {
      if (req.path.rfind("/assets/", 0) == 0) {
        res.status = 404;
        res.set_content("not found: " + req.path + "\n", "text/plain");
        return;
      }
      std::ifstream in(index, std::ios::binary);
      std::ostringstream html;
      html << in.rdbuf();
      res.set_content(html.str(), "text/html");
    });
  } else {
    const std::string dir = options_.dashboard_dir;
    s.Get(R"(/.*)", [dir](const httplib::Request&, httplib::Response& res) {
      res.status = 404;
      res.set_content("The NetGuard dashboard is not installed" +
                          (dir.empty() ? std::string() : " (no index.html in " + dir + ")") +
                          ": build it with -DNETGUARD_DASHBOARD=ON (needs npm) and set "
                          "http.dashboard_dir. The JSON API is at /api/v1.\n",
                      "text/plain");
    });
  }
}

bool HttpApi::Authorized(const GatewayMethod& method, const httplib::Request& req,
                         httplib::Response& res) const {
  if (loopback_ && method.read_only) return true;
  if (options_.token.empty()) {
    SendError(res,
              grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                           method.name + " changes the agent and needs the API token, but none is "
                                         "configured (http.token_file or api.tcp.token_file)"));
    return false;
  }
  const std::string presented = req.get_header_value("Authorization");
  if (!ConstantTimeEquals(presented, "Bearer " + options_.token)) {
    res.set_header("WWW-Authenticate", "Bearer");
    SendError(res, grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                presented.empty()
                                    ? method.name + " needs the API token (Authorization: Bearer)"
                                    : "invalid API token"));
    return false;
  }
  return true;
}

void HttpApi::Dispatch(const httplib::Request& req, httplib::Response& res, bool get) {
  const std::string name = req.matches[1];
  const GatewayMethod* method = gateway_->Find(name);
  if (!method) {
    SendError(res, grpc::Status(grpc::StatusCode::NOT_FOUND,
                                "no method " + name + " (GET /api/v1 lists them)"));
    return;
  }
  if (!Authorized(*method, req, res)) return;
  if (get && !method->read_only) {
    res.set_header("Allow", "POST");
    SendError(res, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                method->name + " changes the agent: use POST"));
    res.status = 405;
    return;
  }
  std::string request;
  grpc::Status parsed;
  if (get) {
    std::multimap<std::string, std::string> params(req.params.begin(), req.params.end());
    parsed = gateway_->ParseQuery(*method, params, &request);
  } else {
    parsed = gateway_->ParseRequest(*method, req.body, &request);
  }
  if (!parsed.ok()) return SendError(res, parsed);
  if (method->server_streaming) {
    return Stream(*method, request, req.get_header_value("Last-Event-ID"), res);
  }
  const GatewayReply reply = gateway_->Call(*method, request);
  if (!reply.status.ok()) return SendError(res, reply.status);
  res.set_content(reply.json, kJson);
}

void HttpApi::Stream(const GatewayMethod& method, const std::string& request,
                     const std::string& last_event_id, httplib::Response& res) {
  std::string resumed = request;
  // An EventSource that reconnects sends the last id it received: resume after it.
  int64_t last_id = 0;
  const auto [end, ec] =
      std::from_chars(last_event_id.data(), last_event_id.data() + last_event_id.size(), last_id);
  if (!last_event_id.empty() && ec == std::errc() &&
      end == last_event_id.data() + last_event_id.size() && last_id > 0) {
    resumed = gateway_->WithInt64(method, request, "resume_after_id", last_id);
  }
  if (open_streams_.fetch_add(1) >= options_.max_streams) {
    open_streams_.fetch_sub(1);
    SendError(res, grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                "too many open event streams (" +
                                    std::to_string(options_.max_streams) + ")"));
    return;
  }
  auto state = std::make_shared<SseState>(gateway_->Open(method, resumed), open_streams_);
  // A request the service refuses at once (a bad filter) is an HTTP error, not an empty stream.
  std::string json;
  int64_t id = 0;
  for (;;) {
    const GatewayStream::Event e = state->stream->Next(milliseconds(50), &json, &id);
    if (e == GatewayStream::Event::kTimeout) break;
    if (e == GatewayStream::Event::kEnd) {
      if (!state->stream->status().ok() && state->pending.empty()) {
        return SendError(res, state->stream->status());
      }
      state->ended = true;
      state->pending += EndEvent(state->stream->status());
      break;
    }
    state->pending += Event(id, json);
    if (state->pending.size() > (64u << 10)) break;
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  const milliseconds heartbeat = options_.heartbeat;
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, state, heartbeat](size_t, httplib::DataSink& sink) {
        const auto write = [&](const std::string& text) {
          state->last_write = std::chrono::steady_clock::now();
          return sink.write(text.data(), text.size());
        };
        if (!state->started) {
          state->started = true;
          const std::string text = "retry: 2000\n\n" + std::exchange(state->pending, {});
          if (!write(text)) return false;
          if (state->ended) sink.done();
          return true;
        }
        if (stopping_.load()) return false;
        std::string message;
        int64_t message_id = 0;
        switch (state->stream->Next(std::min(kStreamPoll, heartbeat), &message, &message_id)) {
          case GatewayStream::Event::kMessage:
            return write(Event(message_id, message));
          case GatewayStream::Event::kTimeout:
            if (std::chrono::steady_clock::now() - state->last_write >= heartbeat) {
              return write(": ping\n\n");
            }
            return sink.is_writable();
          case GatewayStream::Event::kEnd:
            if (!write(EndEvent(state->stream->status()))) return false;
            sink.done();
            return true;
        }
        return false;
      },
      [state](bool) mutable { state.reset(); });
}

}  // namespace netguard::api
