// ngctl's output: aligned tables (table, wide) and the protobuf JSON mapping, one object per
// line (json).
#ifndef NETGUARD_CTL_OUTPUT_H_
#define NETGUARD_CTL_OUTPUT_H_

#include <google/protobuf/message.h>

#include <ostream>
#include <string>
#include <vector>

#include "netguard/v1/netguard.pb.h"

namespace netguard::ctl {

enum class Format { kTable, kWide, kJson };

/// Columns of text; Print() pads every column to its widest cell.
class Table {
 public:
  /// A table with these column titles.
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  /// Appends a row (one cell per column).
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  /// No rows yet.
  bool empty() const { return rows_.empty(); }
  /// Header and rows, columns separated by two spaces, no trailing blanks.
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

/// Prints rows as they come (streams): columns padded to fixed widths given with the header.
class StreamTable {
 public:
  /// Prints the header at once; a column is at least as wide as its title.
  StreamTable(std::vector<std::string> header, std::vector<size_t> widths, std::ostream& out);
  /// Prints one row and flushes.
  void Add(const std::vector<std::string>& row);

 private:
  std::vector<size_t> widths_;
  std::ostream& out_;
};

/// One message as one line of JSON (protobuf JSON mapping, default values included).
std::string ToJsonLine(const google::protobuf::Message& message);

/// Column headers and cells of each kind of row; `wide` adds columns.
std::vector<std::string> AlertHeader(bool wide);
std::vector<std::string> AlertRow(const v1::Alert& alert, bool wide);
std::vector<size_t> AlertWidths(bool wide);
std::vector<std::string> FlowHeader(bool wide);
std::vector<std::string> FlowRow(const v1::Flow& flow, bool wide);
std::vector<size_t> FlowWidths(bool wide);
std::vector<std::string> BlockHeader(bool wide);
std::vector<std::string> BlockRow(const v1::BlockEntry& block, bool wide, int64_t now_ns);

/// The status as "key  value" lines; `wide` adds every counter.
void PrintStatus(const v1::Status& status, bool wide, std::ostream& out);

/// "info", "warning", "high", "critical" (or "-").
std::string SeverityName(v1::Severity severity);
/// "10.0.0.1:443", "[2001:db8::1]:443", or the bare address when the port is 0.
std::string Endpoint(const std::string& address, uint32_t port);

}  // namespace netguard::ctl

#endif  // NETGUARD_CTL_OUTPUT_H_
