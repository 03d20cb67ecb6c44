// Copyright (c) NetGuard authors.

#include "xdp_filter_peer.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <elf.h>
#include <linux/bpf.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace netguard::bench {
namespace {

// Map value layout shared with xdp-tools' xdp-filter (xdp-filter/common_kern_user.h): a per-CPU
// __u64 whose low bits are MAP_FLAG_* and whose bits from COUNTER_SHIFT up count rule hits.
constexpr uint64_t kMapFlagSrc = 1u << 0;
constexpr int kCounterShift = 6;
constexpr char kIpv4MapName[] = "filter_ipv4";
constexpr char kFeaturesSection[] = "features";

[[noreturn]] void ThrowErrno(int err, const std::string& what) {
  throw std::system_error(err != 0 ? err : EIO, std::generic_category(), what);
}

std::string Hex(uint32_t value) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%x", value);
  return buf;
}

std::string FormatIpv4(in_addr addr) {
  char buf[INET_ADDRSTRLEN] = "?";
  inet_ntop(AF_INET, &addr, buf, sizeof(buf));
  return buf;
}

std::string Describe(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

// Returns the 32-bit value xdp-filter stores in the object's "features" ELF section. libbpf
// skips that section, so read it straight from the ELF file.
uint32_t ReadFeatures(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) ThrowErrno(errno, "open " + Describe(path));
  const std::vector<char> elf((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
  if (in.bad()) ThrowErrno(errno, "read " + Describe(path));

  const auto fail = [&](const std::string& why) -> uint32_t {
    throw std::runtime_error(Describe(path) + " is not an xdp-filter BPF object: " + why);
  };
  const auto in_bounds = [&](uint64_t offset, uint64_t size) {
    return offset <= elf.size() && size <= elf.size() - offset;
  };

  Elf64_Ehdr ehdr;
  if (!in_bounds(0, sizeof(ehdr))) return fail("truncated ELF header");
  std::memcpy(&ehdr, elf.data(), sizeof(ehdr));
  if (std::memcmp(ehdr.e_ident, ELFMAG, SELFMAG) != 0 || ehdr.e_ident[EI_CLASS] != ELFCLASS64 ||
      ehdr.e_machine != EM_BPF) {
    return fail("not a 64-bit BPF ELF file");
  }
  constexpr unsigned char kHostData =
      std::endian::native == std::endian::little ? ELFDATA2LSB : ELFDATA2MSB;
  if (ehdr.e_ident[EI_DATA] != kHostData) return fail("byte order differs from the host's");
  if (ehdr.e_shentsize != sizeof(Elf64_Shdr) || ehdr.e_shstrndx >= ehdr.e_shnum ||
      !in_bounds(ehdr.e_shoff, uint64_t{ehdr.e_shnum} * sizeof(Elf64_Shdr))) {
    return fail("bad section header table");
  }

  const auto section = [&](size_t index) {
    Elf64_Shdr shdr;
    std::memcpy(&shdr, elf.data() + ehdr.e_shoff + index * sizeof(Elf64_Shdr), sizeof(shdr));
    return shdr;
  };
  const Elf64_Shdr strtab = section(ehdr.e_shstrndx);
  if (!in_bounds(strtab.sh_offset, strtab.sh_size)) return fail("bad section name table");

  for (size_t i = 0; i < ehdr.e_shnum; ++i) {
    const Elf64_Shdr shdr = section(i);
    if (shdr.sh_name >= strtab.sh_size) continue;
    const char* name = elf.data() + strtab.sh_offset + shdr.sh_name;
    if (strnlen(name, strtab.sh_size - shdr.sh_name) == strtab.sh_size - shdr.sh_name ||
        std::strcmp(name, kFeaturesSection) != 0) {
      continue;
    }
    uint32_t features;
    if (shdr.sh_type != SHT_PROGBITS || shdr.sh_size < sizeof(features) ||
        !in_bounds(shdr.sh_offset, sizeof(features))) {
      return fail("malformed \"features\" section");
    }
    std::memcpy(&features, elf.data() + shdr.sh_offset, sizeof(features));
    return features;
  }
  return fail("no \"features\" section");
}

void CheckFeatures(const std::filesystem::path& path, uint32_t features) {
  namespace feat = xdp_filter_feature;
  const uint32_t policy = features & (feat::kAllowPolicy | feat::kDenyPolicy);
  if (policy != feat::kAllowPolicy && policy != feat::kDenyPolicy) {
    throw std::runtime_error(Describe(path) +
                             " must have exactly one policy bit in its features (" + Hex(features) +
                             ")");
  }
  if ((features & feat::kIpv4) == 0) {
    throw std::runtime_error(Describe(path) +
                             " lacks the ipv4 feature (no filter_ipv4 map); use "
                             "xdpfilt_{alw,dny}_ip.o or xdpfilt_{alw,dny}_all.o");
  }
}

in_addr ParseIpv4(std::string_view text) {
  const std::string str(text);
  in_addr addr{};
  if (inet_pton(AF_INET, str.c_str(), &addr) != 1) {
    throw std::invalid_argument("not an IPv4 address: '" + str + "'");
  }
  return addr;
}

int PossibleCpus() {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) ThrowErrno(cpus < 0 ? -cpus : EINVAL, "libbpf_num_possible_cpus");
  return cpus;
}

}  // namespace

XdpFilterPeer::XdpFilterPeer(const std::filesystem::path& object_path, std::string_view matched_src)
    : XdpFilterPeer(object_path, ParseIpv4(matched_src)) {}

XdpFilterPeer::XdpFilterPeer(const std::filesystem::path& object_path, in_addr matched_src)
    : features_(ReadFeatures(object_path)), matched_src_(matched_src) {
  CheckFeatures(object_path, features_);

  obj_ = bpf_object__open_file(object_path.c_str(), nullptr);
  if (obj_ == nullptr) ThrowErrno(errno, "bpf_object__open_file " + Describe(object_path));

  // Any failure from here on must release obj_: the destructor does not run for a constructor
  // that throws.
  try {
    // The maps are declared with LIBBPF_PIN_BY_NAME, for which libbpf pre-sets a pin path of
    // /sys/fs/bpf/<map name> at open time. Clearing it makes libbpf create private maps instead
    // of reusing (or leaving behind) pinned ones.
    bpf_map* map;
    bpf_object__for_each_map(map, obj_) {
      if (const int err = bpf_map__set_pin_path(map, nullptr); err != 0) {
        ThrowErrno(-err, std::string("bpf_map__set_pin_path(") + bpf_map__name(map) + ", NULL)");
      }
    }

    bpf_program* prog = bpf_object__next_program(obj_, nullptr);
    if (prog == nullptr || bpf_object__next_program(obj_, prog) != nullptr) {
      throw std::runtime_error(Describe(object_path) + " must contain exactly one BPF program");
    }
    if (bpf_program__type(prog) != BPF_PROG_TYPE_XDP) {
      throw std::runtime_error(Describe(object_path) + ": program '" + bpf_program__name(prog) +
                               "' is not an XDP program");
    }

    if (const int err = bpf_object__load(obj_); err != 0) {
      ThrowErrno(-err, "bpf_object__load " + Describe(object_path) +
                           " (run with libbpf debug output for the verifier log)");
    }
    prog_fd_ = bpf_program__fd(prog);

    ipv4_map_ = bpf_object__find_map_by_name(obj_, kIpv4MapName);
    if (ipv4_map_ == nullptr || bpf_map__key_size(ipv4_map_) != sizeof(uint32_t) ||
        bpf_map__value_size(ipv4_map_) != sizeof(uint64_t)) {
      throw std::runtime_error(Describe(object_path) + ": missing or unexpected map " +
                               kIpv4MapName + " (want __u32 key, per-CPU __u64 value)");
    }

    // Same as `xdp-filter ip <addr> --mode src`: the flags go into every CPU's slot, the hit
    // counter (upper bits) starts at zero. The key is the address in network byte order, as
    // the program looks up iphdr->saddr verbatim.
    const std::vector<uint64_t> values(PossibleCpus(), kMapFlagSrc);
    const uint32_t key = matched_src_.s_addr;
    if (bpf_map__update_elem(ipv4_map_, &key, sizeof(key), values.data(),
                             values.size() * sizeof(uint64_t), BPF_ANY) != 0) {
      ThrowErrno(errno, "adding " + FormatIpv4(matched_src_) + " to " + kIpv4MapName);
    }
  } catch (...) {
    Reset();
    throw;
  }
}

XdpFilterPeer::XdpFilterPeer(XdpFilterPeer&& other) noexcept
    : obj_(std::exchange(other.obj_, nullptr)),
      ipv4_map_(std::exchange(other.ipv4_map_, nullptr)),
      prog_fd_(std::exchange(other.prog_fd_, -1)),
      features_(other.features_),
      matched_src_(other.matched_src_) {}

XdpFilterPeer& XdpFilterPeer::operator=(XdpFilterPeer&& other) noexcept {
  if (this != &other) {
    Reset();
    obj_ = std::exchange(other.obj_, nullptr);
    ipv4_map_ = std::exchange(other.ipv4_map_, nullptr);
    prog_fd_ = std::exchange(other.prog_fd_, -1);
    features_ = other.features_;
    matched_src_ = other.matched_src_;
  }
  return *this;
}

XdpFilterPeer::~XdpFilterPeer() { Reset(); }

uint32_t XdpFilterPeer::match_verdict() const { return deny_policy() ? XDP_PASS : XDP_DROP; }

void XdpFilterPeer::Reset() noexcept {
  bpf_object__close(obj_);  // Closes the program and map fds; accepts nullptr.
  obj_ = nullptr;
  ipv4_map_ = nullptr;
  prog_fd_ = -1;
}

uint64_t XdpFilterPeer::rule_hits() const {
  if (ipv4_map_ == nullptr) throw std::logic_error("XdpFilterPeer::rule_hits on moved-from object");
  std::vector<uint64_t> values(PossibleCpus());
  const uint32_t key = matched_src_.s_addr;
  if (bpf_map__lookup_elem(ipv4_map_, &key, sizeof(key), values.data(),
                           values.size() * sizeof(uint64_t), 0) != 0) {
    ThrowErrno(errno, "looking up " + FormatIpv4(matched_src_) + " in " + kIpv4MapName);
  }
  uint64_t hits = 0;
  for (const uint64_t value : values) hits += value >> kCounterShift;
  return hits;
}

}  // namespace netguard::bench
