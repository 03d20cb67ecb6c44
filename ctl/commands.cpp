#include "commands.h"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <thread>
#include <vector>

#include "time_text.h"

namespace netguard::ctl {
namespace {

google::protobuf::Timestamp Timestamp(int64_t ns) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(ns / 1'000'000'000);
  ts.set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
  if (ts.nanos() < 0) {
    ts.set_nanos(ts.nanos() + 1'000'000'000);
    ts.set_seconds(ts.seconds() - 1);
  }
  return ts;
}

// The canonical text of an address (as the agent stores it); the input when it is none.
std::string Canonical(const std::string& text) {
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN] = {};
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) return inet_ntop(AF_INET, buf, out, sizeof(out));
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    return inet_ntop(AF_INET6, buf, out, sizeof(out));
  }
  return text;
}

// A stream that ends with one of these is resumed: the agent went away or restarts. A call
// that reaches an agent while it shuts down is CANCELLED by it (ngctl cancels none itself).
bool Retryable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::UNKNOWN ||
         code == grpc::StatusCode::INTERNAL || code == grpc::StatusCode::ABORTED ||
         code == grpc::StatusCode::CANCELLED;
}

// Rows printed as they come: a StreamTable, or JSON lines.
template <typename Message>
class RowPrinter {
 public:
  using HeaderFn = std::vector<std::string> (*)(bool);
  using RowFn = std::vector<std::string> (*)(const Message&, bool);
  using WidthsFn = std::vector<size_t> (*)(bool);

  RowPrinter(Format format, HeaderFn header, RowFn row, WidthsFn widths)
      : format_(format), row_(row) {
    if (format_ != Format::kJson) {
      const bool wide = format_ == Format::kWide;
      table_.emplace(header(wide), widths(wide), std::cout);
    }
  }
  void Print(const Message& message) {
    if (table_) {
      table_->Add(row_(message, format_ == Format::kWide));
    } else {
      std::cout << ToJsonLine(message) << std::endl;
    }
  }

 private:
  Format format_;
  RowFn row_;
  std::optional<StreamTable> table_;
};

// Reads a stream to its end, reconnecting with resume_after_id = the last id received (up to
// kMaxReconnects times in a row, with backoff), so a restart of the agent loses nothing.
// `open(context, resume_after_id)` starts the call; `handle(message)` prints it.
template <typename Message, typename Open, typename Handle>
int Follow(Client& client, int64_t last, Open open, Handle handle) {
  int failures = 0;
  for (;;) {
    std::unique_ptr<grpc::ClientContext> context = client.StreamContext();
    std::unique_ptr<grpc::ClientReader<Message>> reader = open(context.get(), last);
    Message message;
    while (reader->Read(&message)) {
      failures = 0;
      last = message.id();
      handle(message);
    }
    const grpc::Status status = reader->Finish();
    if (status.ok()) return kExitOk;
    if (!Retryable(status.error_code()) || ++failures > kMaxReconnects) {
      throw client.Failure(status);
    }
    const auto backoff = std::chrono::seconds(1 << (failures - 1));
    std::cerr << "ngctl: stream interrupted (" << status.error_message() << "); resuming after id "
              << last << " in " << backoff.count() << " s (attempt " << failures << "/"
              << kMaxReconnects << ")" << std::endl;
    std::this_thread::sleep_for(backoff);
  }
}

// Lists newest first through every page until `limit` rows passed `keep`; returns them oldest
// first. `call(request, response)` makes one call.
template <typename Request, typename Response, typename Item, typename Call, typename Items,
          typename Keep>
std::vector<Item> Collect(Client& client, Request request, uint32_t limit, bool filtered, Call call,
                          Items items, Keep keep) {
  std::vector<Item> out;
  request.set_page_size(filtered ? 1000 : std::min<uint32_t>(limit, 10000));
  for (;;) {
    Response response;
    const grpc::Status status = call(request, &response);
    if (!status.ok()) throw client.Failure(status);
    for (const Item& item : items(response)) {
      if (out.size() >= limit) break;
      if (keep(item)) out.push_back(item);
    }
    if (out.size() >= limit || response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  std::reverse(out.begin(), out.end());
  return out;
}

v1::Alert Ack(Client& client, int64_t id) {
  v1::AckAlertRequest request;
  request.set_id(id);
  v1::Alert alert;
  const grpc::Status status = client.stub().AckAlert(client.UnaryContext().get(), request, &alert);
  if (!status.ok()) throw client.Failure(status);
  return alert;
}

void PrintAlerts(Format format, const std::vector<v1::Alert>& alerts) {
  if (format == Format::kJson) {
    for (const v1::Alert& a : alerts) std::cout << ToJsonLine(a) << '\n';
    return;
  }
  Table table(AlertHeader(format == Format::kWide));
  for (const v1::Alert& a : alerts) table.Add(AlertRow(a, format == Format::kWide));
  table.Print(std::cout);
}

}  // namespace

int RunStatus(Client& client, Format format) {
  v1::Status status;
  const grpc::Status s =
      client.stub().GetStatus(client.UnaryContext().get(), v1::GetStatusRequest(), &status);
  if (!s.ok()) throw client.Failure(s);
  if (format == Format::kJson) {
    std::cout << ToJsonLine(status) << '\n';
  } else {
    PrintStatus(status, format == Format::kWide, std::cout);
  }
  return kExitOk;
}

int RunAlerts(Client& client, Format format, const AlertsOptions& o) {
  const std::string src = o.src.empty() ? "" : Canonical(o.src);
  const std::string dst = o.dst.empty() ? "" : Canonical(o.dst);
  // The API filters on "source or destination": the side is checked here.
  auto keep = [&](const v1::Alert& a) {
    return (src.empty() || a.src_addr() == src) && (dst.empty() || a.dst_addr() == dst);
  };
  const std::string address = src.empty() ? dst : src;

  // With --follow, the stream resumes after the newest alert that exists before the listing, or
  // after the newest one listed: nothing committed in between is missed.
  int64_t resume = 0;
  if (o.follow) {
    v1::ListAlertsRequest newest;
    newest.set_page_size(1);
    v1::ListAlertsResponse response;
    const grpc::Status s = client.stub().ListAlerts(client.UnaryContext().get(), newest, &response);
    if (!s.ok()) throw client.Failure(s);
    if (!response.alerts().empty()) resume = response.alerts(0).id();
  }

  v1::ListAlertsRequest request;
  if (o.since_ns) *request.mutable_since() = Timestamp(*o.since_ns);
  request.set_address(address);
  request.set_alert_class(o.alert_class);
  request.set_min_severity(o.min_severity);
  const std::vector<v1::Alert> alerts =
      Collect<v1::ListAlertsRequest, v1::ListAlertsResponse, v1::Alert>(
          client, request, o.limit, !src.empty() || !dst.empty(),
          [&](const v1::ListAlertsRequest& r, v1::ListAlertsResponse* out) {
            return client.stub().ListAlerts(client.UnaryContext().get(), r, out);
          },
          [](const v1::ListAlertsResponse& r) -> const auto& { return r.alerts(); }, keep);
  if (!o.follow) {
    PrintAlerts(format, alerts);
    return kExitOk;
  }

  RowPrinter<v1::Alert> printer(format, AlertHeader, AlertRow, AlertWidths);
  for (const v1::Alert& a : alerts) {
    printer.Print(a);
    resume = std::max(resume, a.id());
  }
  v1::StreamAlertsRequest stream;
  stream.set_address(address);
  stream.set_alert_class(o.alert_class);
  stream.set_min_severity(o.min_severity);
  return Follow<v1::Alert>(
      client, resume,
      [&](grpc::ClientContext* context, int64_t after) {
        stream.set_resume_after_id(after);
        return client.stub().StreamAlerts(context, stream);
      },
      [&](const v1::Alert& a) {
        if (keep(a)) printer.Print(a);
      });
}

int RunFlows(Client& client, Format format, const FlowsOptions& o) {
  int64_t resume = 0;
  if (o.follow) {
    v1::ListFlowsRequest newest;
    newest.set_page_size(1);
    v1::ListFlowsResponse response;
    const grpc::Status s = client.stub().ListFlows(client.UnaryContext().get(), newest, &response);
    if (!s.ok()) throw client.Failure(s);
    if (!response.flows().empty()) resume = response.flows(0).id();
  }
  v1::ListFlowsRequest request;
  if (o.since_ns) *request.mutable_since() = Timestamp(*o.since_ns);
  request.set_address(o.address);
  request.set_port(o.port);
  request.set_protocol(o.protocol);
  const std::vector<v1::Flow> flows =
      Collect<v1::ListFlowsRequest, v1::ListFlowsResponse, v1::Flow>(
          client, request, o.limit, false,
          [&](const v1::ListFlowsRequest& r, v1::ListFlowsResponse* out) {
            return client.stub().ListFlows(client.UnaryContext().get(), r, out);
          },
          [](const v1::ListFlowsResponse& r) -> const auto& { return r.flows(); },
          [](const v1::Flow&) { return true; });
  if (!o.follow) {
    if (format == Format::kJson) {
      for (const v1::Flow& f : flows) std::cout << ToJsonLine(f) << '\n';
    } else {
      Table table(FlowHeader(format == Format::kWide));
      for (const v1::Flow& f : flows) table.Add(FlowRow(f, format == Format::kWide));
      table.Print(std::cout);
    }
    return kExitOk;
  }
  RowPrinter<v1::Flow> printer(format, FlowHeader, FlowRow, FlowWidths);
  for (const v1::Flow& f : flows) {
    printer.Print(f);
    resume = std::max(resume, f.id());
  }
  v1::StreamFlowsRequest stream;
  stream.set_address(o.address);
  stream.set_port(o.port);
  stream.set_protocol(o.protocol);
  return Follow<v1::Flow>(
      client, resume,
      [&](grpc::ClientContext* context, int64_t after) {
        stream.set_resume_after_id(after);
        return client.stub().StreamFlows(context, stream);
      },
      [&](const v1::Flow& f) { printer.Print(f); });
}

int RunBlock(Client& client, Format format, const std::string& prefix, uint32_t ttl_seconds,
             const std::string& reason) {
  v1::BlockRequest request;
  request.set_prefix(prefix);
  request.set_ttl_seconds(ttl_seconds);
  request.set_reason(reason);
  v1::BlockEntry entry;
  const grpc::Status s = client.stub().Block(client.UnaryContext().get(), request, &entry);
  if (!s.ok()) throw client.Failure(s);
  if (format == Format::kJson) {
    std::cout << ToJsonLine(entry) << '\n';
  } else {
    Table table(BlockHeader(format == Format::kWide));
    table.Add(BlockRow(entry, format == Format::kWide, NowNs()));
    table.Print(std::cout);
  }
  return kExitOk;
}

int RunUnblock(Client& client, Format format, const std::string& prefix) {
  v1::UnblockRequest request;
  request.set_prefix(prefix);
  v1::UnblockResponse response;
  const grpc::Status s = client.stub().Unblock(client.UnaryContext().get(), request, &response);
  if (!s.ok()) throw client.Failure(s);
  if (format == Format::kJson) {
    std::cout << ToJsonLine(response) << '\n';
  } else {
    std::cout << "unblocked " << prefix << '\n';
  }
  return kExitOk;
}

int RunBlocks(Client& client, Format format) {
  v1::ListBlocksResponse response;
  const grpc::Status s =
      client.stub().ListBlocks(client.UnaryContext().get(), v1::ListBlocksRequest(), &response);
  if (!s.ok()) throw client.Failure(s);
  if (format == Format::kJson) {
    for (const v1::BlockEntry& b : response.blocks()) std::cout << ToJsonLine(b) << '\n';
    return kExitOk;
  }
  Table table(BlockHeader(format == Format::kWide));
  const int64_t now = NowNs();
  for (const v1::BlockEntry& b : response.blocks()) {
    table.Add(BlockRow(b, format == Format::kWide, now));
  }
  table.Print(std::cout);
  return kExitOk;
}

int RunAck(Client& client, Format format, int64_t id, std::optional<v1::Feedback> feedback) {
  v1::Alert alert = Ack(client, id);
  if (feedback) {
    v1::SetFeedbackRequest request;
    request.set_id(id);
    request.set_feedback(*feedback);
    const grpc::Status s = client.stub().SetFeedback(client.UnaryContext().get(), request, &alert);
    if (!s.ok()) throw client.Failure(s);
  }
  PrintAlerts(format, {alert});
  return kExitOk;
}

}  // namespace netguard::ctl
