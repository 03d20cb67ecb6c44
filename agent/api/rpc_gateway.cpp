#include "api/rpc_gateway.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include "netguard/v1/netguard.grpc.pb.h"
#include "netguard/v1/netguard.pb.h"

namespace netguard::api {
namespace {

namespace pb = google::protobuf;

// Completion-queue tags of a stream's steps (one outstanding at a time).
char kStartTag, kWriteTag, kWritesDoneTag, kReadTag, kFinishTag, kUnaryTag;

std::unique_ptr<pb::Message> NewMessage(const pb::Descriptor* type) {
  return std::unique_ptr<pb::Message>(
      pb::MessageFactory::generated_factory()->GetPrototype(type)->New());
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

bool FromBuffer(const grpc::ByteBuffer& buffer, pb::Message* message) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return message->ParseFromString(bytes);
}

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

// The field of `type` called `name` in JSON (lowerCamelCase) or in the .proto.
const pb::FieldDescriptor* FieldNamed(const pb::Descriptor* type, const std::string& name) {
  if (const pb::FieldDescriptor* f = type->FindFieldByName(name)) return f;
  for (int i = 0; i < type->field_count(); ++i) {
    if (type->field(i)->json_name() == name) return type->field(i);
  }
  return nullptr;
}

// A query-string value as the JSON value the protobuf JSON parser expects for `field`.
std::optional<nlohmann::json> QueryValue(const pb::FieldDescriptor* field, const std::string& v) {
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      if (v == "true" || v == "1" || v.empty()) return true;
      if (v == "false" || v == "0") return false;
      return std::nullopt;
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      if (!v.empty() && v.find_first_not_of("0123456789") == std::string::npos) {
        return std::stoll(v);
      }
      return v;
    default:  // numbers may be given as strings in protobuf JSON; strings and timestamps are
      return v;
  }
}

}  // namespace

// ---- GatewayStream ----

GatewayStream::GatewayStream(const GatewayMethod& method, grpc::GenericStub& stub,
                             const std::string& request)
    : method_(method) {
  call_ = stub.PrepareCall(&context_, method.path, &cq_);
  bool timed_out = false;
  call_->StartCall(&kStartTag);
  bool ok = Await(&kStartTag, std::nullopt, &timed_out);
  if (ok) {
    call_->Write(ToBuffer(request), &kWriteTag);
    ok = Await(&kWriteTag, std::nullopt, &timed_out);
  }
  if (ok) {
    call_->WritesDone(&kWritesDoneTag);
    ok = Await(&kWritesDoneTag, std::nullopt, &timed_out);
  }
  if (!ok) Finish();
}

GatewayStream::~GatewayStream() {
  if (!ended_) {
    context_.TryCancel();
    bool timed_out = false;
    if (read_pending_) Await(&kReadTag, std::nullopt, &timed_out);
    Finish();
  }
  cq_.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq_.Next(&tag, &ok)) {
  }
}

bool GatewayStream::Await(void* tag, std::optional<std::chrono::milliseconds> timeout,
                          bool* timed_out) {
  const auto deadline = timeout ? std::chrono::system_clock::now() + *timeout
                                : std::chrono::system_clock::time_point::max();
  for (;;) {
    void* got = nullptr;
    bool ok = false;
    const grpc::CompletionQueue::NextStatus s = cq_.AsyncNext(&got, &ok, deadline);
    if (s == grpc::CompletionQueue::TIMEOUT) {
      *timed_out = true;
      return false;
    }
    if (s == grpc::CompletionQueue::SHUTDOWN) return false;
    if (got == tag) return ok;
  }
}

void GatewayStream::Finish() {
  if (ended_) return;
  ended_ = true;
  call_->Finish(&status_, &kFinishTag);
  bool timed_out = false;
  Await(&kFinishTag, std::nullopt, &timed_out);
}

GatewayStream::Event GatewayStream::Next(std::chrono::milliseconds timeout, std::string* json,
                                         int64_t* id) {
  if (ended_) return Event::kEnd;
  if (!read_pending_) {
    call_->Read(&incoming_, &kReadTag);
    read_pending_ = true;
  }
  bool timed_out = false;
  const bool ok = Await(&kReadTag, timeout, &timed_out);
  if (timed_out) return Event::kTimeout;
  read_pending_ = false;
  if (!ok) {
    Finish();
    return Event::kEnd;
  }
  std::unique_ptr<pb::Message> message = NewMessage(method_.descriptor->output_type());
  if (!FromBuffer(incoming_, message.get())) {
    context_.TryCancel();
    Finish();
    status_ = grpc::Status(grpc::StatusCode::INTERNAL, "undecodable stream message");
    return Event::kEnd;
  }
  *json = ToJson(*message);
  *id = 0;
  const pb::FieldDescriptor* field = message->GetDescriptor()->FindFieldByName("id");
  if (field && field->cpp_type() == pb::FieldDescriptor::CPPTYPE_INT64 && !field->is_repeated()) {
    *id = message->GetReflection()->GetInt64(*message, field);
  }
  return Event::kMessage;
}

void GatewayStream::Cancel() { context_.TryCancel(); }

// ---- RpcGateway ----

RpcGateway::RpcGateway(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds deadline)
    : channel_(std::move(channel)), stub_(channel_), deadline_(deadline) {
  const pb::ServiceDescriptor* service =
      pb::DescriptorPool::generated_pool()->FindServiceByName(v1::NetGuard::service_full_name());
  for (int i = 0; i < service->method_count(); ++i) {
    const pb::MethodDescriptor* m = service->method(i);
    methods_.push_back(
        {.descriptor = m,
         .name = m->name(),
         .path = "/" + service->full_name() + "/" + m->name(),
         .read_only = m->options().idempotency_level() == pb::MethodOptions::NO_SIDE_EFFECTS,
         .server_streaming = m->server_streaming()});
  }
}

const GatewayMethod* RpcGateway::Find(std::string_view name) const {
  for (const GatewayMethod& m : methods_) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

grpc::Status RpcGateway::ParseRequest(const GatewayMethod& method, std::string_view json,
                                      std::string* serialized) const {
  std::unique_ptr<pb::Message> request = NewMessage(method.descriptor->input_type());
  if (json.find_first_not_of(" \t\r\n") != std::string_view::npos) {
    const auto status = pb::util::JsonStringToMessage(pb::StringPiece(json.data(), json.size()),
                                                      request.get(), pb::util::JsonParseOptions());
    if (!status.ok()) {
      return Invalid("not a valid " + request->GetTypeName() + ": " +
                     std::string(status.message()));
    }
  }
  *serialized = request->SerializeAsString();
  return grpc::Status::OK;
}

grpc::Status RpcGateway::ParseQuery(const GatewayMethod& method,
                                    const std::multimap<std::string, std::string>& params,
                                    std::string* serialized) const {
  const pb::Descriptor* type = method.descriptor->input_type();
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [key, value] : params) {
    const pb::FieldDescriptor* field = FieldNamed(type, key);
    if (!field) return Invalid("unknown parameter '" + key + "' for " + method.name);
    const std::optional<nlohmann::json> v = QueryValue(field, value);
    if (!v) return Invalid("parameter '" + key + "': expected true or false, got '" + value + "'");
    if (field->is_repeated()) {
      object[field->json_name()].push_back(*v);
    } else {
      object[field->json_name()] = *v;
    }
  }
  return ParseRequest(method, object.dump(), serialized);
}

GatewayReply RpcGateway::Call(const GatewayMethod& method, const std::string& request) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline_);
  grpc::CompletionQueue cq;
  auto call = stub_.PrepareUnaryCall(&context, method.path, ToBuffer(request), &cq);
  call->StartCall();
  grpc::ByteBuffer reply;
  GatewayReply out;
  call->Finish(&reply, &out.status, &kUnaryTag);
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (!out.status.ok()) return out;
  std::unique_ptr<pb::Message> message = NewMessage(method.descriptor->output_type());
  if (!FromBuffer(reply, message.get())) {
    out.status = grpc::Status(grpc::StatusCode::INTERNAL, "undecodable reply of " + method.name);
    return out;
  }
  out.json = ToJson(*message);
  return out;
}

std::unique_ptr<GatewayStream> RpcGateway::Open(const GatewayMethod& method,
                                                const std::string& request) {
  return std::unique_ptr<GatewayStream>(new GatewayStream(method, stub_, request));
}

std::string RpcGateway::WithInt64(const GatewayMethod& method, const std::string& request,
                                  std::string_view field_name, int64_t value) const {
  std::unique_ptr<pb::Message> message = NewMessage(method.descriptor->input_type());
  const pb::FieldDescriptor* field =
      message->GetDescriptor()->FindFieldByName(std::string(field_name));
  if (!field || field->cpp_type() != pb::FieldDescriptor::CPPTYPE_INT64 || field->is_repeated() ||
      !message->ParseFromString(request)) {
    return request;
  }
  message->GetReflection()->SetInt64(message.get(), field, value);
  return message->SerializeAsString();
}

std::string ToJson(const pb::Message& message) {
  pb::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!pb::util::MessageToJsonString(message, &json, options).ok()) return "{}";
  return json;
}

int HttpStatusFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::CANCELLED:
      return 499;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
      return 409;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    default:
      return 500;
  }
}

std::string_view StatusName(grpc::StatusCode code) {
  static constexpr std::string_view kNames[] = {"OK",
                                                "CANCELLED",
                                                "UNKNOWN",
                                                "INVALID_ARGUMENT",
                                                "DEADLINE_EXCEEDED",
                                                "NOT_FOUND",
                                                "ALREADY_EXISTS",
                                                "PERMISSION_DENIED",
                                                "RESOURCE_EXHAUSTED",
                                                "FAILED_PRECONDITION",
                                                "ABORTED",
                                                "OUT_OF_RANGE",
                                                "UNIMPLEMENTED",
                                                "INTERNAL",
                                                "UNAVAILABLE",
                                                "DATA_LOSS",
                                                "UNAUTHENTICATED"};
  const auto i = static_cast<size_t>(code);
  return i < std::size(kNames) ? kNames[i] : "UNKNOWN";
}

std::string ErrorJson(const grpc::Status& status) {
  return nlohmann::json{{"code", static_cast<int>(status.error_code())},
                        {"status", StatusName(status.error_code())},
                        {"message", status.error_message()}}
      .dump();
}

}  // namespace netguard::api
