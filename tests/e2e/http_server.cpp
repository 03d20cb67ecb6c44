#include "http_server.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <system_error>

#include "traffic.h"

namespace netguard::e2e {
namespace {

using Clock = std::chrono::steady_clock;

// Reads until `fd` is readable or `until`; false on timeout or stop.
bool Readable(int fd, const std::atomic<bool>& stop, Clock::time_point until) {
  while (!stop && Clock::now() < until) {
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, 100) > 0) return true;
  }
  return false;
}

}  // namespace

HttpServer::HttpServer(int ns_fd, const std::string& ip, std::string body, uint16_t port)
    : listener_(BoundSocket(ns_fd, SOCK_STREAM, ip, port)),
      port_(LocalPort(listener_.get())),
      body_(std::move(body)) {
  if (listen(listener_.get(), 64) != 0) {
    throw std::system_error(errno, std::generic_category(), "listen");
  }
  thread_ = std::thread([this] { Serve(); });
}

HttpServer::~HttpServer() {
  stop_ = true;
  thread_.join();
}

void HttpServer::Serve() {
  while (!stop_) {
    pollfd p{.fd = listener_.get(), .events = POLLIN, .revents = 0};
    if (poll(&p, 1, 100) <= 0) continue;
    Fd conn(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) continue;

    // The request head, bounded in time and size.
    std::string request;
    const auto deadline = Clock::now() + std::chrono::milliseconds(2000);
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536 &&
           Readable(conn.get(), stop_, deadline)) {
      char buf[2048];
      const ssize_t n = recv(conn.get(), buf, sizeof(buf), 0);
      if (n <= 0) break;
      request.append(buf, static_cast<size_t>(n));
    }
    if (request.find("\r\n\r\n") == std::string::npos) continue;

    const std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                                 std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" +
                                 body_;
    size_t sent = 0;
    while (sent < response.size() && !stop_) {
      const ssize_t n =
          send(conn.get(), response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    if (sent == response.size()) ++served_;
    shutdown(conn.get(), SHUT_WR);

    // The client's FIN (bounded), so the connection ends whole.
    const auto close_deadline = Clock::now() + std::chrono::milliseconds(2000);
    char drain[512];
    while (Readable(conn.get(), stop_, close_deadline)) {
      if (recv(conn.get(), drain, sizeof(drain), 0) <= 0) break;
    }
  }
}

}  // namespace netguard::e2e
