// A minimal HTTP/1.1 server for the e2e tests and benchmarks, run in a lab namespace.
#ifndef NETGUARD_TESTS_E2E_HTTP_SERVER_H_
#define NETGUARD_TESTS_E2E_HTTP_SERVER_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "netns_lab.h"

namespace netguard::e2e {

/// Serves on `ip`:`port` (0: an ephemeral port) in the namespace `ns_fd`, one connection at a time
/// on its own thread: a complete request head gets 200 with `body` and "Connection: close"; the
/// server then waits (bounded) for the client's FIN, so a capture holds whole connections. Every
/// wait is bounded; the destructor stops the thread.
class HttpServer {
 public:
  HttpServer(int ns_fd, const std::string& ip, std::string body, uint16_t port = 0);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const { return port_; }
  /// Responses sent in full.
  int served() const { return served_; }

 private:
  void Serve();

  Fd listener_;
  uint16_t port_;
  std::string body_;
  std::atomic<bool> stop_{false};
  std::atomic<int> served_{0};
  std::thread thread_;
};

}  // namespace netguard::e2e

#endif  // NETGUARD_TESTS_E2E_HTTP_SERVER_H_
