#include "src/sgx/simulated_host.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"

namespace cn::sgx {
namespace {

uint32_t BitIf(bool condition, int bit) { return condition ? (1u << bit) : 0u; }

absl::Status WriteText(const std::filesystem::path& path, absl::string_view content) {
  std::error_code error;
  std::filesystem::create_directories(path.parent_path(), error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", path.parent_path().string(), ": ", error.message()));
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) {
    return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  }
  return absl::OkStatus();
}

absl::Status BindSocket(const std::filesystem::path& path) {
  std::error_code error;
  std::filesystem::create_directories(path.parent_path(), error);
  std::filesystem::remove(path, error);
  std::string text = path.string();
  sockaddr_un address{};
  if (text.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(text, ": too long for a Unix socket path (max ",
                                                   sizeof(address.sun_path) - 1, " bytes)"));
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("socket(): ", std::strerror(errno)));
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
  int result = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  int bind_error = errno;
  ::close(fd);
  if (result != 0) {
    return absl::InternalError(absl::StrCat("cannot bind ", text, ": ", std::strerror(bind_error)));
  }
  return absl::OkStatus();
}

}  // namespace

SimulatedHost TypicalSgx2Host(uint64_t epc_bytes) {
  SimulatedHost host;
  host.cpu = CpuFeatures{.sgx = true,
                         .flc = true,
                         .sgx1 = true,
                         .sgx2 = true,
                         .edeccssa = false,
                         .kss = true,
                         .aex_notify = false,
                         .max_enclave_size_64 = 36};
  host.epc_sections = {EpcSection{0x64000000ull << 4, epc_bytes, EpcProtection::kIntegrity}};
  host.sysfs_numa_epc = {NumaEpc{0, epc_bytes}};
  host.driver = DriverKind::kInKernel;
  return host;
}

os::TableCpuid EncodeCpuid(const SimulatedHost& host) {
  os::TableCpuid table;
  const CpuFeatures& cpu = host.cpu;
  table.Set(0, 0, {0x20, 0x756e6547, 0x6c65746e, 0x49656e69});  // max leaf, "GenuineIntel"
  table.Set(7, 0, {0, BitIf(cpu.sgx, 2), BitIf(cpu.flc, 30), 0});
  table.Set(0x12, 0,
            {BitIf(cpu.sgx1, 0) | BitIf(cpu.sgx2, 1) | BitIf(cpu.edeccssa, 11), 0, 0,
             static_cast<uint32_t>(cpu.max_enclave_size_64 & 0xFF) << 8});
  table.Set(0x12, 1, {BitIf(cpu.kss, 7) | BitIf(cpu.aex_notify, 10), 0, 0x1F, 0});
  uint32_t subleaf = 2;
  for (const EpcSection& section : host.epc_sections) {
    uint32_t protection = section.protection == EpcProtection::kIntegrity             ? 1
                          : section.protection == EpcProtection::kConfidentialityOnly ? 2
                                                                                      : 0;
    table.Set(0x12, subleaf++,
              {static_cast<uint32_t>(section.base & 0xFFFFF000u) | 1u,
               static_cast<uint32_t>((section.base >> 32) & 0xFFFFF),
               static_cast<uint32_t>(section.size & 0xFFFFF000u) | protection,
               static_cast<uint32_t>((section.size >> 32) & 0xFFFFF)});
  }
  return table;
}

std::string EncodeCpuidFile(const SimulatedHost& host) {
  os::TableCpuid table = EncodeCpuid(host);
  std::string text = "# LEAF SUBLEAF EAX EBX ECX EDX (simulated SGX CPU)\n";
  auto hex = [](uint32_t value) { return absl::StrCat("0x", absl::Hex(value, absl::kZeroPad8)); };
  std::vector<std::pair<uint32_t, uint32_t>> keys = {{0, 0}, {7, 0}, {0x12, 0}, {0x12, 1}};
  for (uint32_t subleaf = 2; subleaf < 2 + host.epc_sections.size(); ++subleaf) {
    keys.emplace_back(0x12, subleaf);
  }
  for (auto [leaf, subleaf] : keys) {
    os::CpuidRegisters registers = table.Query(leaf, subleaf);
    absl::StrAppend(&text, hex(leaf), " ", hex(subleaf), " ", hex(registers.eax), " ",
                    hex(registers.ebx), " ", hex(registers.ecx), " ", hex(registers.edx), "\n");
  }
  return text;
}

absl::Status WriteHostRoot(const SimulatedHost& host, const std::string& root) {
  std::filesystem::path base = root;
  auto under = [&base](absl::string_view host_path) {
    return base / std::string(host_path.substr(1));
  };
  switch (host.driver) {
    case DriverKind::kNone:
      break;
    case DriverKind::kInKernel:
      RETURN_IF_ERROR(WriteText(under(kInKernelEnclaveDevice), ""));
      if (host.provision_device) {
        RETURN_IF_ERROR(WriteText(under(kInKernelProvisionDevice), ""));
      }
      break;
    case DriverKind::kDcap:
      RETURN_IF_ERROR(WriteText(under(kDcapEnclaveDevice), ""));
      if (host.provision_device) {
        RETURN_IF_ERROR(WriteText(under(kDcapProvisionDevice), ""));
      }
      break;
    case DriverKind::kOutOfTree:
      RETURN_IF_ERROR(WriteText(under(kOutOfTreeDevice), ""));
      break;
  }
  for (const NumaEpc& node : host.sysfs_numa_epc) {
    RETURN_IF_ERROR(WriteText(
        under(absl::StrCat(kNumaNodeDirectory, "/node", node.node, "/x86/sgx_total_bytes")),
        absl::StrCat(node.bytes, "\n")));
  }
  if (host.aesm) {
    RETURN_IF_ERROR(BindSocket(under(kAesmSocket)));
  }
  if (host.misc_cgroup_epc_bytes) {
    RETURN_IF_ERROR(
        WriteText(under(kMiscCgroupCapacity),
                  absl::StrCat("res_a 10\nsgx_epc ", *host.misc_cgroup_epc_bytes, "\n")));
  }
  return absl::OkStatus();
}

}  // namespace cn::sgx
