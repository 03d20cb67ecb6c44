// Real traffic between the namespaces of a NetnsLab: UDP echo, ICMP echo, TCP helpers.
// Every wait is bounded by a deadline; nothing loops forever.
#ifndef NETGUARD_TESTS_E2E_TRAFFIC_H_
#define NETGUARD_TESTS_E2E_TRAFFIC_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "netns_lab.h"

namespace netguard::e2e {

using std::chrono::milliseconds;

/// Default bound of every single wait in the e2e tests.
inline constexpr milliseconds kWait{5000};

/// Polls `done` every `step` until it returns true or `timeout` passes; returns its last value.
bool WaitFor(const std::function<bool()>& done, milliseconds timeout = kWait,
             milliseconds step = milliseconds(10));

/// A socket of `type` (SOCK_DGRAM, SOCK_STREAM) created in `ns_fd` and bound to ip:port
/// (port 0: any). Throws std::system_error.
Fd BoundSocket(int ns_fd, int type, const std::string& ip, uint16_t port);

/// Local port of a bound socket.
uint16_t LocalPort(int fd);

/// Where a datagram came from.
struct Source {
  std::string ip;
  uint16_t port = 0;
  friend bool operator==(const Source&, const Source&) = default;
};

/// Receives one datagram within `timeout` into *data (resized to its length).
std::optional<Source> RecvDatagram(int fd, std::string* data, milliseconds timeout = kWait);

/// Sends `size` pattern bytes from `fd` to ip:port. Returns false (with errno) on failure.
bool SendDatagram(int fd, const std::string& ip, uint16_t port, size_t size);

/// One UDP echo: client sends `size` bytes to the server socket at server_ip:server_port, the
/// server receives them and sends them back, the client receives the echo. Returns "" on
/// success, else what went wrong.
std::string UdpRoundTrip(int client, int server, const std::string& server_ip, uint16_t server_port,
                         size_t size);

/// One ICMP echo request with `payload` bytes from the raw ICMP socket `raw` to dst_ip, and
/// its reply. Returns "" on success, else what went wrong.
std::string IcmpEcho(int raw, const std::string& dst_ip, uint16_t id, uint16_t seq, size_t payload);

/// Writes `size` pattern bytes to a connected stream socket. Returns false on error/timeout.
bool SendAll(int fd, size_t size, milliseconds timeout = kWait);
/// Reads until exactly `size` bytes arrived. Returns false on error, EOF or timeout.
bool RecvExactly(int fd, size_t size, milliseconds timeout = kWait);
/// Waits for the peer's FIN (read returns 0) with no data before it.
bool WaitEof(int fd, milliseconds timeout = kWait);

/// Retransmitted segments of a TCP socket so far (tcpi_total_retrans).
uint32_t TcpRetransmits(int fd);

/// Ports of the two ends of a TcpExchange.
struct TcpPorts {
  uint16_t client = 0;
  uint16_t server = 0;
};

/// One TCP connection from `client_ip` in namespace `client_ns` to a listener on `server_ip` in
/// `server_ns`: handshake, `up` bytes to the server, `down` bytes back, then the client closes
/// first and the server after it (two FINs, no RST). Returns "" or what went wrong; a
/// retransmission is an error, since it would make exact payload counts wrong.
std::string TcpExchange(int client_ns, const std::string& client_ip, int server_ns,
                        const std::string& server_ip, size_t up, size_t down, TcpPorts* ports);

}  // namespace netguard::e2e

#endif  // NETGUARD_TESTS_E2E_TRAFFIC_H_
