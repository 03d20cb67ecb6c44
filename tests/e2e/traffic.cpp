#include "traffic.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>
#include <vector>

namespace netguard::e2e {
namespace {

using Clock = std::chrono::steady_clock;

sockaddr_in Endpoint(const std::string& ip, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr = Ipv4(ip);
  return addr;
}

std::string Pattern(size_t size) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>('a' + i % 26);
  return data;
}

// Milliseconds left until `deadline` (0 when past), for poll().
int Remaining(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Waits until `fd` has `events` or the deadline passes.
bool WaitReady(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{.fd = fd, .events = events, .revents = 0};
    int n = poll(&p, 1, Remaining(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

uint16_t InternetChecksum(const uint8_t* data, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
  if (len % 2) sum += static_cast<uint32_t>(data[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace

bool WaitFor(const std::function<bool()>& done, milliseconds timeout, milliseconds step) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= deadline) return done();
    std::this_thread::sleep_for(step);
  }
}

Fd BoundSocket(int ns_fd, int type, const std::string& ip, uint16_t port) {
  Fd fd = SocketIn(ns_fd, AF_INET, type, 0);
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr = Endpoint(ip, port);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    throw std::system_error(errno, std::generic_category(),
                            "bind " + ip + ":" + std::to_string(port));
  }
  return fd;
}

uint16_t LocalPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::system_error(errno, std::generic_category(), "getsockname");
  }
  return ntohs(addr.sin_port);
}

std::optional<Source> RecvDatagram(int fd, std::string* data, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  data->assign(65536, '\0');
  for (;;) {
    if (!WaitReady(fd, POLLIN, deadline)) return std::nullopt;
    sockaddr_in from{};
    socklen_t len = sizeof(from);
    ssize_t n = recvfrom(fd, data->data(), data->size(), MSG_DONTWAIT,
                         reinterpret_cast<sockaddr*>(&from), &len);
    if (n >= 0) {
      data->resize(static_cast<size_t>(n));
      char text[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &from.sin_addr, text, sizeof(text));
      return Source{.ip = text, .port = ntohs(from.sin_port)};
    }
    if (errno != EAGAIN && errno != EINTR) return std::nullopt;
  }
}

bool SendDatagram(int fd, const std::string& ip, uint16_t port, size_t size) {
  const std::string data = Pattern(size);
  sockaddr_in to = Endpoint(ip, port);
  ssize_t n = sendto(fd, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
  return n == static_cast<ssize_t>(size);
}

std::string UdpRoundTrip(int client, int server, const std::string& server_ip, uint16_t server_port,
                         size_t size) {
  if (!SendDatagram(client, server_ip, server_port, size)) {
    return "client send of " + std::to_string(size) + " bytes: " + std::strerror(errno);
  }
  sockaddr_in local{};
  socklen_t len = sizeof(local);
  getsockname(client, reinterpret_cast<sockaddr*>(&local), &len);
  char client_ip[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &local.sin_addr, client_ip, sizeof(client_ip));
  const Source expected{.ip = client_ip, .port = ntohs(local.sin_port)};

  std::string data;
  std::optional<Source> from = RecvDatagram(server, &data);
  if (!from) return "server received nothing (" + std::to_string(size) + " bytes sent)";
  if (*from != expected) {
    return "server received a datagram from " + from->ip + ":" + std::to_string(from->port) +
           " instead of " + expected.ip + ":" + std::to_string(expected.port);
  }
  if (data != Pattern(size)) return "server received " + std::to_string(data.size()) + " bytes";
  if (!SendDatagram(server, from->ip, from->port, size)) {
    return std::string("server echo: ") + std::strerror(errno);
  }
  std::optional<Source> back = RecvDatagram(client, &data);
  if (!back) return "client received no echo of " + std::to_string(size) + " bytes";
  if (back->ip != server_ip || back->port != server_port || data != Pattern(size)) {
    return "client received an unexpected datagram from " + back->ip;
  }
  return "";
}

std::string IcmpEcho(int raw, const std::string& dst_ip, uint16_t id, uint16_t seq,
                     size_t payload) {
  std::vector<uint8_t> request(8 + payload);
  request[0] = 8;  // echo request
  request[4] = static_cast<uint8_t>(id >> 8);
  request[5] = static_cast<uint8_t>(id);
  request[6] = static_cast<uint8_t>(seq >> 8);
  request[7] = static_cast<uint8_t>(seq);
  const std::string pattern = Pattern(payload);
  std::copy(pattern.begin(), pattern.end(), request.begin() + 8);
  const uint16_t sum = InternetChecksum(request.data(), request.size());
  request[2] = static_cast<uint8_t>(sum >> 8);
  request[3] = static_cast<uint8_t>(sum);

  sockaddr_in to = Endpoint(dst_ip, 0);
  if (sendto(raw, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&to),
             sizeof(to)) != static_cast<ssize_t>(request.size())) {
    return std::string("send echo request: ") + std::strerror(errno);
  }
  const auto deadline = Clock::now() + kWait;
  std::vector<uint8_t> reply(65536);
  while (WaitReady(raw, POLLIN, deadline)) {
    ssize_t n = recv(raw, reply.data(), reply.size(), MSG_DONTWAIT);
    if (n < 20) continue;
    const size_t ihl = static_cast<size_t>(reply[0] & 0x0f) * 4;
    if (static_cast<size_t>(n) < ihl + 8) continue;
    const uint8_t* icmp = reply.data() + ihl;
    const uint16_t got_id = static_cast<uint16_t>(icmp[4] << 8 | icmp[5]);
    const uint16_t got_seq = static_cast<uint16_t>(icmp[6] << 8 | icmp[7]);
    if (icmp[0] != 0 || got_id != id || got_seq != seq) continue;  // not our echo reply
    if (static_cast<size_t>(n) - ihl - 8 != payload) return "echo reply of a different size";
    return "";
  }
  return "no echo reply to seq " + std::to_string(seq);
}

bool SendAll(int fd, size_t size, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const std::string data = Pattern(size);
  size_t sent = 0;
  while (sent < size) {
    if (!WaitReady(fd, POLLOUT, deadline)) return false;
    ssize_t n = send(fd, data.data() + sent, size - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return false;
    }
  }
  return true;
}

bool RecvExactly(int fd, size_t size, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<char> buf(size);
  size_t got = 0;
  while (got < size) {
    if (!WaitReady(fd, POLLIN, deadline)) return false;
    ssize_t n = recv(fd, buf.data() + got, size - got, MSG_DONTWAIT);
    if (n == 0) return false;  // EOF before everything arrived
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (errno != EAGAIN && errno != EINTR) {
      return false;
    }
  }
  return true;
}

bool WaitEof(int fd, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  char byte = 0;
  for (;;) {
    if (!WaitReady(fd, POLLIN, deadline)) return false;
    ssize_t n = recv(fd, &byte, 1, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n > 0) return false;  // data where the FIN was expected
    if (errno != EAGAIN && errno != EINTR) return false;
  }
}

uint32_t TcpRetransmits(int fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) {
    throw std::system_error(errno, std::generic_category(), "TCP_INFO");
  }
  return info.tcpi_total_retrans;
}

std::string TcpExchange(int client_ns, const std::string& client_ip, int server_ns,
                        const std::string& server_ip, size_t up, size_t down, TcpPorts* ports) {
  Fd listener = BoundSocket(server_ns, SOCK_STREAM, server_ip, 0);
  if (listen(listener.get(), 4) != 0) return std::string("listen: ") + std::strerror(errno);
  Fd client = BoundSocket(client_ns, SOCK_STREAM, client_ip, 0);
  ports->client = LocalPort(client.get());
  ports->server = LocalPort(listener.get());

  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(ports->server);
  to.sin_addr = Ipv4(server_ip);
  // The handshake completes in the kernel; accept() below picks the connection up.
  fcntl(client.get(), F_SETFL, fcntl(client.get(), F_GETFL) | O_NONBLOCK);
  if (connect(client.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0 &&
      errno != EINPROGRESS) {
    return std::string("connect: ") + std::strerror(errno);
  }
  const bool pending = WaitFor([&] {
    pollfd p{.fd = listener.get(), .events = POLLIN, .revents = 0};
    return poll(&p, 1, 0) == 1;
  });
  if (!pending) return "no connection to accept";
  Fd conn(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!conn.valid()) return std::string("accept: ") + std::strerror(errno);

  if (!SendAll(client.get(), up)) return "client send timed out";
  if (!RecvExactly(conn.get(), up)) return "server did not receive the upload";
  if (!SendAll(conn.get(), down)) return "server send timed out";
  if (!RecvExactly(client.get(), down)) return "client did not receive the download";
  if (TcpRetransmits(client.get()) != 0 || TcpRetransmits(conn.get()) != 0) {
    return "a segment was retransmitted";
  }
  client.Reset();  // FIN from the client (nothing unread: no RST)
  if (!WaitEof(conn.get())) return "the server saw no FIN";
  conn.Reset();  // FIN from the server; the client's last ACK follows
  return "";
}

}  // namespace netguard::e2e
