#pragma once

// What a daemon watching this host for SGX changes needs: the host directories whose entries
// decide the probe's answer, and which entries of them matter; and the CPUID source the
// --cpuid-file flag selects. The node agent uses these; the device plugin has the same rules in
// src/deviceplugin/daemon.cc and main.cc, to move here when that code is next touched.
//
// Thread safety: pure functions.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/os/cpuid.h"
#include "src/os/file_system.h"

namespace cn::sgx {

// Host paths: /dev, /dev/sgx and the AESM directory. Some may not exist (no /dev/sgx on an
// in-kernel host): watch what exists and probe periodically for the rest.
std::vector<std::string> PlatformWatchDirectories();

// Whether an entry appearing or vanishing in `host_directory` can change the probe's answer.
// Everything in /dev other than the SGX nodes (ttys, disks) is noise.
bool IsPlatformEntry(absl::string_view host_directory, absl::string_view name);

// The CPUID source for --cpuid-file: the processor when `cpuid_file` is empty, else the table
// read through `local` (the process's own files). InvalidArgument naming the file and line for
// an unreadable or malformed table.
absl::StatusOr<std::unique_ptr<os::Cpuid>> OpenCpuid(const os::FileSystem& local,
                                                     const std::string& cpuid_file);

}  // namespace cn::sgx
