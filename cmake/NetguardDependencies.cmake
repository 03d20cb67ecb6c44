# Finds every build dependency and fails at configure time with a message that says what to
# install. scripts/install-deps.sh installs all of them on Debian 12.

# netguard_missing(<what> <Debian packages>): stops configuring with an install hint.
function(netguard_missing what debian)
  message(FATAL_ERROR "${what} not found: apt install ${debian} (or run scripts/install-deps.sh)")
endfunction()

# netguard_require_package(<find_package name> <Debian packages> [CONFIG])
macro(netguard_require_package name debian)
  find_package(${name} ${ARGN} QUIET)
  if(NOT ${name}_FOUND)
    netguard_missing(${name} "${debian}")
  endif()
endmacro()

# netguard_require_pkg(<prefix> <pkg-config module> <Debian package>)
function(netguard_require_pkg prefix module debian)
  pkg_check_modules(${prefix} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${prefix}_FOUND)
    netguard_missing(${module} ${debian})
  endif()
  message(STATUS "Found ${module} ${${prefix}_VERSION}")
endfunction()

# netguard_require_program(<variable> <program> <Debian package>)
function(netguard_require_program var program debian)
  find_program(${var} ${program})
  if(NOT ${var})
    netguard_missing(${program} ${debian})
  endif()
endfunction()

netguard_require_package(PkgConfig pkg-config)
find_package(Threads REQUIRED)
netguard_require_package(spdlog libspdlog-dev CONFIG)
netguard_require_package(CLI11 libcli11-dev CONFIG)
netguard_require_package(yaml-cpp libyaml-cpp-dev CONFIG)
netguard_require_package(nlohmann_json nlohmann-json3-dev CONFIG)
netguard_require_package(SQLite3 libsqlite3-dev)
# absl::flat_hash_map: the pcap backends' flow index.
netguard_require_package(absl libabsl-dev CONFIG)

# gRPC API (agent/api, ctl/ngctl): protoc and grpc_cpp_plugin generate the code at build time.
# The plugin and headers are checked before find_package(gRPC): Debian's gRPCConfig.cmake aborts
# with a generic "file does not exist" error when protobuf-compiler-grpc is missing.
netguard_require_program(NETGUARD_PROTOC protoc protobuf-compiler)
netguard_require_program(NETGUARD_GRPC_CPP_PLUGIN grpc_cpp_plugin protobuf-compiler-grpc)
netguard_require_package(Protobuf libprotobuf-dev)
find_path(NETGUARD_GRPCPP_INCLUDE grpcpp/grpcpp.h)
if(NOT NETGUARD_GRPCPP_INCLUDE)
  netguard_missing("gRPC C++" libgrpc++-dev)
endif()
netguard_require_package(gRPC libgrpc++-dev CONFIG)
message(STATUS "Found protobuf ${Protobuf_VERSION} and gRPC ${gRPC_VERSION}")

# The HTTP/JSON face and the dashboard's server (agent/api/http_api.cpp); offline GeoIP lookups.
netguard_require_pkg(HTTPLIB cpp-httplib libcpp-httplib-dev)
netguard_require_pkg(GEOIP geoip libgeoip-dev)
netguard_require_pkg(MAXMINDDB libmaxminddb libmaxminddb-dev)

# pcap capture backends (agent/capture/pcap), built with or without eBPF.
netguard_require_pkg(PCAP libpcap libpcap-dev)

if(NETGUARD_WITH_BPF)
  netguard_require_pkg(LIBBPF "libbpf>=1.0" libbpf-dev)
endif()
if(NETGUARD_BUILD_TESTS)
  netguard_require_package(GTest "libgtest-dev libgmock-dev" CONFIG)
endif()
if(NETGUARD_BUILD_BENCH AND NETGUARD_WITH_BPF)
  netguard_require_package(benchmark libbenchmark-dev CONFIG)
endif()

# ML detection and ngtrain: the XGBoost C API (Debian ships no CMake config for it) and
# OpenSSL's libcrypto (SHA-256 of model files).
find_path(NETGUARD_XGBOOST_INCLUDE xgboost/c_api.h)
find_library(NETGUARD_XGBOOST_LIBRARY xgboost)
if(NOT NETGUARD_XGBOOST_INCLUDE OR NOT NETGUARD_XGBOOST_LIBRARY)
  netguard_missing("XGBoost C API" libxgboost-dev)
endif()
add_library(Netguard::XGBoost UNKNOWN IMPORTED)
set_target_properties(Netguard::XGBoost PROPERTIES
  IMPORTED_LOCATION ${NETGUARD_XGBOOST_LIBRARY}
  INTERFACE_INCLUDE_DIRECTORIES ${NETGUARD_XGBOOST_INCLUDE})
netguard_require_package(OpenSSL libssl-dev)
