#include "common/ip_prefix.h"

#include <gtest/gtest.h>

#include <array>
#include <stdexcept>
#include <string>

namespace netguard {
namespace {

using Bytes = std::array<uint8_t, 16>;

TEST(IpPrefixTest, Ipv4HostDefaultsToSlash32) {
  const IpPrefix p = IpPrefix::Parse("192.0.2.7");
  EXPECT_EQ(p.family, IpPrefix::Family::kIpv4);
  EXPECT_EQ(p.length, 32);
  EXPECT_EQ(p.addr, (Bytes{192, 0, 2, 7}));
  EXPECT_EQ(p.max_length(), 32);
  EXPECT_EQ(p.ToString(), "192.0.2.7/32");
}

TEST(IpPrefixTest, Ipv4Prefixes) {
  EXPECT_EQ(IpPrefix::Parse("10.0.0.0/8").ToString(), "10.0.0.0/8");
  EXPECT_EQ(IpPrefix::Parse("10.1.2.0/24").addr, (Bytes{10, 1, 2, 0}));
  const IpPrefix all = IpPrefix::Parse("0.0.0.0/0");
  EXPECT_EQ(all.length, 0);
  EXPECT_EQ(all.addr, Bytes{});
}

TEST(IpPrefixTest, HostBitsAreCleared) {
  EXPECT_EQ(IpPrefix::Parse("10.1.2.3/8").addr, (Bytes{10, 0, 0, 0}));
  EXPECT_EQ(IpPrefix::Parse("10.1.2.3/8").ToString(), "10.0.0.0/8");
  EXPECT_EQ(IpPrefix::Parse("10.255.255.255/9").addr, (Bytes{10, 128, 0, 0}));
  EXPECT_EQ(IpPrefix::Parse("192.168.1.255/31").addr, (Bytes{192, 168, 1, 254}));
  EXPECT_EQ(IpPrefix::Parse("255.255.255.255/0").addr, Bytes{});
  EXPECT_EQ(IpPrefix::Parse("2001:db8:ffff::1/32").ToString(), "2001:db8::/32");
  EXPECT_EQ(IpPrefix::Parse("2001:db8::ffff/127").ToString(), "2001:db8::fffe/127");
  EXPECT_EQ(IpPrefix::Parse("2001:db8:1:2:3:4:5:6/64").ToString(), "2001:db8:1:2::/64");
  // Equal after clearing: the same prefix.
  EXPECT_EQ(IpPrefix::Parse("10.9.9.9/8"), IpPrefix::Parse("10.0.0.0/8"));
}

TEST(IpPrefixTest, Ipv6) {
  const IpPrefix host = IpPrefix::Parse("2001:db8::1");
  EXPECT_EQ(host.family, IpPrefix::Family::kIpv6);
  EXPECT_EQ(host.length, 128);
  EXPECT_EQ(host.max_length(), 128);
  EXPECT_EQ(host.addr, (Bytes{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(host.ToString(), "2001:db8::1/128");
  EXPECT_EQ(IpPrefix::Parse("::/0").ToString(), "::/0");
  EXPECT_EQ(IpPrefix::Parse("::ffff:10.0.0.1/128").family, IpPrefix::Family::kIpv6);
}

TEST(IpPrefixTest, FamiliesDiffer) {
  EXPECT_NE(IpPrefix::Parse("0.0.0.0/0"), IpPrefix::Parse("::/0"));
}

void ExpectInvalid(const std::string& text, const std::string& fragment) {
  try {
    IpPrefix::Parse(text);
    ADD_FAILURE() << "'" << text << "' parsed";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "'" << text << "': " << e.what();
  }
}

TEST(IpPrefixTest, BadAddress) {
  ExpectInvalid("", "not an IPv4 or IPv6 address");
  ExpectInvalid("/24", "not an IPv4 or IPv6 address");
  ExpectInvalid("10.0.0/24", "not an IPv4 or IPv6 address");
  ExpectInvalid("10.0.0.256", "not an IPv4 or IPv6 address");
  ExpectInvalid("example.com/8", "not an IPv4 or IPv6 address");
  ExpectInvalid("2001:db8:::1/64", "not an IPv4 or IPv6 address");
  ExpectInvalid(" 10.0.0.1", "not an IPv4 or IPv6 address");
}

TEST(IpPrefixTest, BadLength) {
  ExpectInvalid("10.0.0.0/x", "is not a number");
  ExpectInvalid("10.0.0.0/8x", "is not a number");
  ExpectInvalid("10.0.0.0/-1", "is not a number");
  ExpectInvalid("10.0.0.0/+8", "is not a number");
  ExpectInvalid("10.0.0.0/ 8", "is not a number");
  ExpectInvalid("10.0.0.0/8/8", "is not a number");
  ExpectInvalid("10.0.0.0/99999999999999999999", "is not a number");
}

TEST(IpPrefixTest, EmptyLength) {
  ExpectInvalid("10.0.0.0/", "is not a number");
  ExpectInvalid("2001:db8::/", "is not a number");
}

TEST(IpPrefixTest, LengthBeyondMax) {
  ExpectInvalid("10.0.0.0/33", "exceeds 32");
  ExpectInvalid("2001:db8::/129", "exceeds 128");
  ExpectInvalid("2001:db8::/256", "exceeds 128");
  EXPECT_EQ(IpPrefix::Parse("10.0.0.0/32").length, 32);
  EXPECT_EQ(IpPrefix::Parse("2001:db8::/128").length, 128);
}

}  // namespace
}  // namespace netguard
