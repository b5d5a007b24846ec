# Every dependency is a Debian 12 package installed by scripts/install-deps.
find_package(absl CONFIG REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(simdjson 3 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(GTest REQUIRED)
include(GoogleTest)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
# libcurl (OpenSSL flavour) for outbound HTTP(S); SQLite for the collateral cache.
find_package(CURL REQUIRED)
find_package(SQLite3 REQUIRED)
# yaml-cpp reads kubeconfig files (src/kube).
find_package(yaml-cpp REQUIRED)
# Boost.Asio and Boost.Beast (header-only, libboost-dev) for sgx-attestd's event-driven server.
find_package(Boost 1.74 REQUIRED)
# jemalloc (libjemalloc-dev) is sgx-attestd's allocator (src/attestd/CMakeLists.txt says why). The
# sanitizer and fuzzing configurations keep their own allocator, so they do not look for it.
if(NOT CN_SANITIZE AND NOT CN_FUZZ)
  find_library(CN_JEMALLOC_LIBRARY NAMES jemalloc REQUIRED)
endif()
# CLI11 is header-only in Debian; its headers are on the default include path.
find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
# cpp-httplib is compiled as a shared library in Debian; its header must see the same feature
# macros as the library (pkg-config's Cflags), or class layouts disagree. Only tests use it (as an
# HTTP client): the plugin serves HTTP itself (see src/http/probe_server.h for why).
pkg_check_modules(CN_HTTPLIB REQUIRED IMPORTED_TARGET GLOBAL cpp-httplib)
if(CN_BENCH)
  find_package(benchmark REQUIRED)
endif()
