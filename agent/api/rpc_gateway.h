// RpcGateway: calls the methods of netguard.v1.NetGuard by name, with protobuf-JSON requests and
// replies, through a gRPC channel (the ApiServer's in-process channel). The HTTP face uses it and
// nothing else, so every HTTP call runs the one service implementation.
#ifndef NETGUARD_AGENT_API_RPC_GATEWAY_H_
#define NETGUARD_AGENT_API_RPC_GATEWAY_H_

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace google::protobuf {
class Message;
class MethodDescriptor;
}  // namespace google::protobuf

namespace netguard::api {

/// One method of the service as the gateway sees it.
struct GatewayMethod {
  const google::protobuf::MethodDescriptor* descriptor = nullptr;
  std::string name;  // "ListAlerts"
  std::string path;  // "/netguard.v1.NetGuard/ListAlerts"
  /// The method declares `option idempotency_level = NO_SIDE_EFFECTS`: a read. Every other
  /// method is a change (the HTTP face asks for the API token). This is the one place that
  /// decides it.
  bool read_only = false;
  bool server_streaming = false;
};

/// A gRPC status and, when it is OK, the reply as protobuf JSON.
struct GatewayReply {
  grpc::Status status;
  std::string json;
};

/// An open server-streaming call. Next() blocks up to `timeout`; Cancel() (or destruction) ends
/// the call on the server side too.
class GatewayStream {
 public:
  enum class Event { kMessage, kTimeout, kEnd };

  ~GatewayStream();
  GatewayStream(const GatewayStream&) = delete;
  GatewayStream& operator=(const GatewayStream&) = delete;

  /// kMessage: *json holds the next message and *id its int64 `id` field (0 without one);
  /// kTimeout: nothing within `timeout`; kEnd: the stream ended, see status().
  Event Next(std::chrono::milliseconds timeout, std::string* json, int64_t* id);
  /// Cancels the call; Next() then returns kEnd.
  void Cancel();
  /// The final status once Next() returned kEnd.
  const grpc::Status& status() const { return status_; }

 private:
  friend class RpcGateway;
  GatewayStream(const GatewayMethod& method, grpc::GenericStub& stub, const std::string& request);
  bool Await(void* tag, std::optional<std::chrono::milliseconds> timeout, bool* timed_out);
  void Finish();

  const GatewayMethod& method_;
  grpc::ClientContext context_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  grpc::ByteBuffer incoming_;
  bool read_pending_ = false;
  bool ended_ = false;
  grpc::Status status_;
};

/// Looks methods up in the generated descriptor pool and invokes them through `channel`.
/// Thread-safe.
class RpcGateway {
 public:
  /// `channel` reaches a server of netguard.v1.NetGuard; `deadline` bounds unary calls.
  explicit RpcGateway(std::shared_ptr<grpc::Channel> channel,
                      std::chrono::milliseconds deadline = std::chrono::seconds(30));

  /// The method called `name` ("ListAlerts"), or null.
  const GatewayMethod* Find(std::string_view name) const;
  /// Every method, in the order of the service definition.
  const std::vector<GatewayMethod>& methods() const { return methods_; }

  /// The request of `method` from a JSON object (empty text: all defaults); INVALID_ARGUMENT
  /// with the parser's message when it does not fit the request message.
  grpc::Status ParseRequest(const GatewayMethod& method, std::string_view json,
                            std::string* serialized) const;
  /// The request from query parameters: each names a field (JSON or proto name); repeated
  /// parameters fill a repeated field. INVALID_ARGUMENT for an unknown field or a bad value.
  grpc::Status ParseQuery(const GatewayMethod& method,
                          const std::multimap<std::string, std::string>& params,
                          std::string* serialized) const;

  /// Calls a unary method with a serialized request.
  GatewayReply Call(const GatewayMethod& method, const std::string& request);
  /// Opens a server-streaming method with a serialized request.
  std::unique_ptr<GatewayStream> Open(const GatewayMethod& method, const std::string& request);

  /// A serialized request with `field` (an int64, e.g. resume_after_id) set to `value`, when the
  /// request message has such a field; `request` unchanged otherwise.
  std::string WithInt64(const GatewayMethod& method, const std::string& request,
                        std::string_view field, int64_t value) const;

 private:
  std::shared_ptr<grpc::Channel> channel_;
  grpc::GenericStub stub_;
  std::chrono::milliseconds deadline_;
  std::vector<GatewayMethod> methods_;
};

/// Protobuf JSON of `message` (lowerCamelCase names, default values printed).
std::string ToJson(const google::protobuf::Message& message);

/// The HTTP status for a gRPC status code (the grpc-gateway mapping: NOT_FOUND 404,
/// UNAUTHENTICATED 401, UNIMPLEMENTED 501, UNAVAILABLE 503, ...).
int HttpStatusFor(grpc::StatusCode code);
/// "NOT_FOUND", "UNIMPLEMENTED", ...
std::string_view StatusName(grpc::StatusCode code);
/// {"code": 5, "status": "NOT_FOUND", "message": "..."}
std::string ErrorJson(const grpc::Status& status);

}  // namespace netguard::api

#endif  // NETGUARD_AGENT_API_RPC_GATEWAY_H_
