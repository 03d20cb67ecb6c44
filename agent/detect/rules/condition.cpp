#include <algorithm>

#include "detect/rules/event.h"

namespace netguard::detect::rules {
namespace {

double FieldValue(Condition::Field field, const Event& e) {
  switch (field) {
    case Condition::Field::kSize:
      return e.size;
    case Condition::Field::kPayload:
      return static_cast<double>(e.payload);
    case Condition::Field::kPackets:
      return e.packets;
    case Condition::Field::kBytes:
      return e.bytes;
    case Condition::Field::kDurationMs:
      return e.duration_ms;
  }
  return 0;
}

bool Compare(Condition::Cmp cmp, double a, double b) {
  switch (cmp) {
    case Condition::Cmp::kLt:
      return a < b;
    case Condition::Cmp::kLe:
      return a <= b;
    case Condition::Cmp::kGt:
      return a > b;
    case Condition::Cmp::kGe:
      return a >= b;
    case Condition::Cmp::kEq:
      return a == b;
    case Condition::Cmp::kNe:
      return a != b;
  }
  return false;
}

bool InPorts(const std::vector<uint16_t>& ports, uint16_t port) {
  return std::find(ports.begin(), ports.end(), port) != ports.end();
}

}  // namespace

bool Matches(const Condition& c, const Event& e) {
  switch (c.op) {
    case Condition::Op::kAll:
      return std::all_of(c.children.begin(), c.children.end(),
                         [&](const Condition& x) { return Matches(x, e); });
    case Condition::Op::kAny:
      return std::any_of(c.children.begin(), c.children.end(),
                         [&](const Condition& x) { return Matches(x, e); });
    case Condition::Op::kNot:
      return c.children.empty() || !Matches(c.children.front(), e);
    case Condition::Op::kProto:
      return e.proto == static_cast<uint8_t>(c.value);
    case Condition::Op::kSrcPort:
      return InPorts(c.ports, e.src_port);
    case Condition::Op::kDstPort:
      return InPorts(c.ports, e.dst_port);
    case Condition::Op::kFlagsSet:
      return (e.flags & c.flags) == c.flags;
    case Condition::Op::kFlagsUnset:
      return (e.flags & c.flags) == 0;
    case Condition::Op::kCompare:
      return Compare(c.cmp, FieldValue(c.field, e), c.value);
  }
  return false;
}

}  // namespace netguard::detect::rules
