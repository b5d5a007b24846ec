#include "src/sgx/platform.h"

#include <algorithm>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "src/common/status_macros.h"

namespace cn::sgx {
namespace {

constexpr uint32_t kStructuredFeaturesLeaf = 0x7;
constexpr uint32_t kSgxLeaf = 0x12;
constexpr uint32_t kFirstEpcSubleaf = 2;
constexpr int kMaxEpcSections = 8;

bool Bit(uint32_t value, int bit) { return ((value >> bit) & 1u) != 0; }

// 4 KiB-aligned low part from one register, bits 51:32 from the other's low 20 bits.
uint64_t EpcAddress(uint32_t low_register, uint32_t high_register) {
  return static_cast<uint64_t>(low_register & 0xFFFFF000u) |
         (static_cast<uint64_t>(high_register & 0x000FFFFFu) << 32);
}

absl::StatusOr<uint64_t> ParseByteCount(absl::string_view text, absl::string_view host_path) {
  absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  uint64_t value = 0;
  if (trimmed.empty() || !absl::SimpleAtoi(trimmed, &value) || trimmed.front() == '-' ||
      trimmed.front() == '+') {
    return absl::InvalidArgumentError(
        absl::StrCat(host_path, ": expected a byte count (a decimal number), found '",
                     absl::CEscape(trimmed.substr(0, 40)), "'"));
  }
  return value;
}

// Reads EPC sizes per NUMA node from /sys/devices/system/node/nodeN/x86/sgx_total_bytes.
absl::StatusOr<std::vector<NumaEpc>> ReadNumaEpc(const os::FileSystem& file_system) {
  std::vector<NumaEpc> nodes;
  auto entries = file_system.ListDirectory(kNumaNodeDirectory);
  if (!entries.ok()) {
    return nodes;  // No sysfs NUMA view (old kernel, or not mounted): not an error.
  }
  for (const std::string& entry : *entries) {
    absl::string_view number = entry;
    int node = 0;
    if (!absl::ConsumePrefix(&number, "node") || !absl::SimpleAtoi(number, &node) || node < 0 ||
        !absl::ascii_isdigit(static_cast<unsigned char>(number.front()))) {
      continue;
    }
    std::string path = os::JoinPath(os::JoinPath(kNumaNodeDirectory, entry), "x86/sgx_total_bytes");
    auto content = file_system.ReadFile(path);
    if (absl::IsNotFound(content.status())) {
      continue;  // Kernel older than 5.17, or this node has no EPC attribute.
    }
    if (!content.ok()) {
      return content.status();
    }
    ASSIGN_OR_RETURN(uint64_t bytes, ParseByteCount(*content, path));
    nodes.push_back(NumaEpc{node, bytes});
  }
  std::sort(nodes.begin(), nodes.end(),
            [](const NumaEpc& a, const NumaEpc& b) { return a.node < b.node; });
  return nodes;
}

// Looks for a device node. Absent is nullopt; a path that cannot even be inspected is reported
// as a problem and treated as absent, because nothing could open it either.
std::optional<DeviceNode> FindDevice(const os::FileSystem& file_system, absl::string_view path,
                                     Check check, std::vector<Problem>& problems) {
  auto type = file_system.Stat(path);
  if (absl::IsNotFound(type.status())) {
    return std::nullopt;
  }
  if (!type.ok()) {
    problems.push_back({check, absl::StrCat("cannot inspect ", path, " (", type.status().message(),
                                            "): check the permissions of the device node")});
    return std::nullopt;
  }
  DeviceNode device{std::string(path), *type == os::FileType::kCharacterDevice};
  if (!device.character_device) {
    problems.push_back(
        {check, absl::StrCat(path, " exists but is a ", os::FileTypeName(*type),
                             ", not a character device: containers cannot use it; reload the SGX "
                             "driver or remove the stray file so the driver can create the device "
                             "node")});
  }
  return device;
}

Driver FindDriver(const os::FileSystem& file_system, std::vector<Problem>& problems) {
  constexpr Check kEnclave = Check::kEnclaveDevice;
  constexpr Check kProvision = Check::kProvisionDevice;
  Driver driver;
  if (auto enclave = FindDevice(file_system, kInKernelEnclaveDevice, kEnclave, problems)) {
    driver.kind = DriverKind::kInKernel;
    driver.enclave_device = std::move(enclave);
    driver.provision_device =
        FindDevice(file_system, kInKernelProvisionDevice, kProvision, problems);
    if (!driver.provision_device) {
      // Some distributions only create the legacy alias for the provision node.
      driver.provision_device = FindDevice(file_system, kDcapProvisionDevice, kProvision, problems);
    }
  } else if (auto dcap_enclave = FindDevice(file_system, kDcapEnclaveDevice, kEnclave, problems)) {
    driver.kind = DriverKind::kDcap;
    driver.enclave_device = std::move(dcap_enclave);
    driver.provision_device = FindDevice(file_system, kDcapProvisionDevice, kProvision, problems);
  } else if (auto legacy = FindDevice(file_system, kOutOfTreeDevice, kEnclave, problems)) {
    driver.kind = DriverKind::kOutOfTree;
    driver.enclave_device = std::move(legacy);
  }
  return driver;
}

std::string Bytes(uint64_t bytes) {
  constexpr uint64_t kMiB = 1024 * 1024;
  if (bytes % kMiB == 0) {
    return absl::StrCat(bytes, " bytes (", bytes / kMiB, " MiB)");
  }
  return absl::StrCat(bytes, " bytes");
}

void AddProblems(Platform& platform, uint64_t cpuid_total) {
  std::vector<Problem>& problems = platform.problems;
  const CpuFeatures& cpu = platform.cpu;
  if (!cpu.sgx) {
    problems.push_back(Problem{
        Check::kCpu,
        "the CPU does not report SGX (CPUID.(EAX=7,ECX=0):EBX bit 2 is 0): this node cannot run "
        "enclaves; in a VM, ask for an SGX-enabled VM size, otherwise run SGX workloads on other "
        "nodes"});
    return;
  }
  if (!cpu.sgx1) {
    problems.push_back(Problem{
        Check::kSgx1,
        "the CPU reports SGX but not the SGX1 instructions (CPUID.(EAX=0x12,ECX=0):EAX bit 0 is "
        "0): SGX is disabled in firmware; enable it in the BIOS/UEFI setup"});
  }
  if (platform.epc_total_bytes == 0) {
    if (platform.epc_source == EpcSource::kSysfs && cpuid_total > 0) {
      problems.push_back(
          Problem{Check::kEpc,
                  absl::StrCat(
                      "the CPU reports ", Bytes(cpuid_total),
                      " of EPC but the kernel set up none: the kernel's SGX support is off (check "
                      "for 'nosgx' on the kernel command line and for 'sgx:' messages in dmesg)")});
    } else {
      problems.push_back(Problem{
          Check::kEpc,
          "the CPU supports SGX but no EPC is reported: SGX is disabled in firmware; enable it in "
          "the BIOS/UEFI setup (SGX 'Enabled' rather than 'Software Controlled', with a non-zero "
          "PRM size)"});
    }
  } else if (platform.epc_source == EpcSource::kSysfs && cpuid_total != 0 &&
             cpuid_total != platform.epc_total_bytes) {
    problems.push_back(Problem{
        Check::kEpc,
        absl::StrCat(
            "CPUID reports ", Bytes(cpuid_total), " of EPC but the kernel set up ",
            Bytes(platform.epc_total_bytes),
            " (sysfs): using the kernel's figure; look for 'sgx:' messages in dmesg to see which "
            "sections it skipped")});
  }
  if (!platform.driver.enclave_device) {
    if (cpu.flc) {
      problems.push_back(Problem{
          Check::kEnclaveDevice,
          "no SGX enclave device (/dev/sgx_enclave, /dev/sgx/enclave or /dev/isgx): load the "
          "in-kernel SGX driver (Linux 5.11 or later with CONFIG_X86_SGX=y)"});
    } else {
      problems.push_back(Problem{
          Check::kEnclaveDevice,
          "no SGX enclave device (/dev/sgx_enclave, /dev/sgx/enclave or /dev/isgx), and the CPU "
          "has no flexible launch control, so the in-kernel driver cannot be used: install "
          "Intel's legacy out-of-tree driver (isgx)"});
    }
  } else if (platform.driver.kind != DriverKind::kOutOfTree && !platform.driver.provision_device) {
    problems.push_back(Problem{
        Check::kProvisionDevice,
        absl::StrCat(
            "the ", DriverKindName(platform.driver.kind),
            " driver's provision device is missing (/dev/sgx_provision or /dev/sgx/provision): "
            "quoting enclaves cannot get their attestation keys; check the driver version and the "
            "udev rules that create it")});
  }
}

}  // namespace

absl::string_view EpcProtectionName(EpcProtection protection) {
  switch (protection) {
    case EpcProtection::kIntegrity:
      return "integrity";
    case EpcProtection::kConfidentialityOnly:
      return "confidentiality";
    case EpcProtection::kUnknown:
      return "unknown";
  }
  return "unknown";
}

absl::string_view EpcSourceName(EpcSource source) {
  switch (source) {
    case EpcSource::kNone:
      return "none";
    case EpcSource::kSysfs:
      return "sysfs";
    case EpcSource::kCpuid:
      return "cpuid";
  }
  return "none";
}

absl::string_view DriverKindName(DriverKind kind) {
  switch (kind) {
    case DriverKind::kNone:
      return "none";
    case DriverKind::kInKernel:
      return "in-kernel";
    case DriverKind::kDcap:
      return "dcap";
    case DriverKind::kOutOfTree:
      return "out-of-tree";
  }
  return "none";
}

CpuFeatures DecodeCpuFeatures(const os::Cpuid& cpuid) {
  CpuFeatures features;
  os::CpuidRegisters structured = cpuid.Query(kStructuredFeaturesLeaf, 0);
  features.sgx = Bit(structured.ebx, 2);
  features.flc = Bit(structured.ecx, 30);
  if (!features.sgx) {
    return features;  // Leaf 0x12 is only defined when the SGX bit is set.
  }
  os::CpuidRegisters capabilities = cpuid.Query(kSgxLeaf, 0);
  features.sgx1 = Bit(capabilities.eax, 0);
  features.sgx2 = Bit(capabilities.eax, 1);
  features.edeccssa = Bit(capabilities.eax, 11);
  features.max_enclave_size_64 = static_cast<int>((capabilities.edx >> 8) & 0xFF);
  os::CpuidRegisters attributes = cpuid.Query(kSgxLeaf, 1);
  features.kss = Bit(attributes.eax, 7);
  features.aex_notify = Bit(attributes.eax, 10);
  return features;
}

std::vector<EpcSection> DecodeEpcSections(const os::Cpuid& cpuid) {
  std::vector<EpcSection> sections;
  if (!Bit(cpuid.Query(kStructuredFeaturesLeaf, 0).ebx, 2)) {
    return sections;
  }
  for (int index = 0; index < kMaxEpcSections; ++index) {
    os::CpuidRegisters leaf = cpuid.Query(kSgxLeaf, kFirstEpcSubleaf + index);
    uint32_t type = leaf.eax & 0xF;
    if (type == 0) {
      break;  // End of the list.
    }
    if (type != 1) {
      continue;  // Reserved sub-leaf type: not an EPC section.
    }
    EpcSection section;
    section.base = EpcAddress(leaf.eax, leaf.ebx);
    section.size = EpcAddress(leaf.ecx, leaf.edx);
    switch (leaf.ecx & 0xF) {
      case 1:
        section.protection = EpcProtection::kIntegrity;
        break;
      case 2:
        section.protection = EpcProtection::kConfidentialityOnly;
        break;
      default:
        section.protection = EpcProtection::kUnknown;
        break;
    }
    sections.push_back(section);
  }
  return sections;
}

absl::StatusOr<Platform> ProbePlatform(const os::FileSystem& file_system, const os::Cpuid& cpuid) {
  Platform platform;
  platform.cpu = DecodeCpuFeatures(cpuid);
  platform.epc_sections = DecodeEpcSections(cpuid);
  uint64_t cpuid_total = 0;
  for (const EpcSection& section : platform.epc_sections) {
    cpuid_total += section.size;
  }
  ASSIGN_OR_RETURN(platform.numa_nodes, ReadNumaEpc(file_system));
  if (!platform.numa_nodes.empty()) {
    platform.epc_source = EpcSource::kSysfs;
    for (const NumaEpc& node : platform.numa_nodes) {
      platform.epc_total_bytes += node.bytes;
    }
  } else if (!platform.epc_sections.empty()) {
    platform.epc_source = EpcSource::kCpuid;
    platform.epc_total_bytes = cpuid_total;
  }
  platform.driver = FindDriver(file_system, platform.problems);
  if (auto aesm = file_system.Stat(kAesmSocket); aesm.ok()) {
    platform.aesm_socket = std::string(kAesmSocket);
    if (*aesm != os::FileType::kSocket) {
      platform.problems.push_back(Problem{
          Check::kAesm,
          absl::StrCat(kAesmSocket, " exists but is a ", os::FileTypeName(*aesm),
                       ", not a socket: restart the AESM service (aesmd) so it recreates its "
                       "socket")});
    }
  }
  platform.epc_cgroup = ProbeEpcCgroup(file_system);
  platform.misc_cgroup_epc_bytes = platform.epc_cgroup.capacity_bytes;
  AddProblems(platform, cpuid_total);
  platform.ready =
      platform.cpu.sgx1 && platform.epc_total_bytes > 0 && platform.driver.enclave_device;
  return platform;
}

EpcCgroup ProbeEpcCgroup(const os::FileSystem& file_system) {
  EpcCgroup cgroup;
  absl::StatusOr<std::string> content = file_system.ReadFile(kMiscCgroupCapacity);
  if (!content.ok()) {
    cgroup.detail =
        content.status().code() == absl::StatusCode::kNotFound
            ? absl::StrCat("unavailable: ", kMiscCgroupCapacity,
                           " does not exist (cgroup v1, or a kernel without the misc controller); "
                           "EPC is accounted, not enforced")
            : absl::StrCat("unavailable: ", content.status().message());
    return cgroup;
  }
  // Flat-keyed "name value" lines; a kernel with the EPC cgroup lists "sgx_epc".
  for (absl::string_view line : absl::StrSplit(*content, '\n', absl::SkipWhitespace())) {
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() == 2 && fields[0] == "sgx_epc") {
      absl::StatusOr<uint64_t> bytes = ParseByteCount(fields[1], kMiscCgroupCapacity);
      if (!bytes.ok()) {
        cgroup.detail = absl::StrCat("unavailable: ", bytes.status().message());
        return cgroup;
      }
      cgroup.available = true;
      cgroup.capacity_bytes = *bytes;
      cgroup.detail = absl::StrCat("available (sgx_epc capacity ", Bytes(*bytes), " in ",
                                   kMiscCgroupCapacity, ")");
      return cgroup;
    }
  }
  cgroup.detail = absl::StrCat("unavailable: ", kMiscCgroupCapacity,
                               " lists no sgx_epc (the kernel has no EPC cgroup); EPC is "
                               "accounted, not enforced");
  return cgroup;
}

std::vector<std::string> ProblemTexts(const Platform& platform) {
  std::vector<std::string> texts;
  texts.reserve(platform.problems.size());
  for (const Problem& problem : platform.problems) {
    texts.push_back(problem.text);
  }
  return texts;
}

nlohmann::json PlatformToJson(const Platform& platform) {
  auto device_path = [](const std::optional<DeviceNode>& device) {
    return device ? nlohmann::json(device->host_path) : nlohmann::json(nullptr);
  };
  auto device_is_character = [](const std::optional<DeviceNode>& device) {
    return device ? nlohmann::json(device->character_device) : nlohmann::json(nullptr);
  };
  nlohmann::json sections = nlohmann::json::array();
  for (const EpcSection& section : platform.epc_sections) {
    sections.push_back({{"base", section.base},
                        {"size", section.size},
                        {"protection", std::string(EpcProtectionName(section.protection))}});
  }
  nlohmann::json numa_nodes = nlohmann::json::array();
  for (const NumaEpc& node : platform.numa_nodes) {
    numa_nodes.push_back({{"node", node.node}, {"bytes", node.bytes}});
  }
  const CpuFeatures& cpu = platform.cpu;
  return nlohmann::json{
      {"ready", platform.ready},
      {"cpu",
       {{"sgx", cpu.sgx},
        {"flc", cpu.flc},
        {"sgx1", cpu.sgx1},
        {"sgx2", cpu.sgx2},
        {"edeccssa", cpu.edeccssa},
        {"kss", cpu.kss},
        {"aex_notify", cpu.aex_notify},
        {"max_enclave_size_64", cpu.max_enclave_size_64}}},
      {"epc",
       {{"total_bytes", platform.epc_total_bytes},
        {"source", std::string(EpcSourceName(platform.epc_source))},
        {"sections", sections},
        {"numa_nodes", numa_nodes}}},
      {"driver",
       {{"kind", std::string(DriverKindName(platform.driver.kind))},
        {"enclave_device", device_path(platform.driver.enclave_device)},
        {"enclave_device_is_character_device", device_is_character(platform.driver.enclave_device)},
        {"provision_device", device_path(platform.driver.provision_device)},
        {"provision_device_is_character_device",
         device_is_character(platform.driver.provision_device)}}},
      {"aesm",
       {{"socket",
         platform.aesm_socket ? nlohmann::json(*platform.aesm_socket) : nlohmann::json(nullptr)}}},
      {"misc_cgroup",
       {{"sgx_epc_bytes", platform.misc_cgroup_epc_bytes
                              ? nlohmann::json(*platform.misc_cgroup_epc_bytes)
                              : nlohmann::json(nullptr)}}},
      {"epc_cgroup",
       {{"available", platform.epc_cgroup.available}, {"detail", platform.epc_cgroup.detail}}},
      {"problems", ProblemTexts(platform)},
  };
}

std::string FormatReport(const Platform& platform) {
  std::string report;
  std::vector<bool> printed(platform.problems.size(), false);
  // Prints the problems of `check` under the line just written: the fix when the line failed,
  // a note otherwise (a warning about a check that passed, or about an [info] fact).
  auto problems_of = [&](Check check, bool failed) {
    bool any = false;
    for (size_t i = 0; i < platform.problems.size(); ++i) {
      if (!printed[i] && platform.problems[i].check == check) {
        absl::StrAppend(&report,
                        failed ? "       fix: " : "       note: ", platform.problems[i].text, "\n");
        printed[i] = true;
        any = true;
      }
    }
    // The probe names only the root cause: without SGX in the CPU there is no point in telling
    // the reader to load a driver.
    if (failed && !any) {
      absl::StrAppend(&report,
                      "       fix: follows from the first failure above; fix that first\n");
    }
  };
  auto line = [&](bool passed, Check check, absl::string_view text) {
    absl::StrAppend(&report, passed ? "[ok]   " : "[FAIL] ", text, "\n");
    problems_of(check, !passed);
  };
  auto info = [&report](absl::string_view text) {
    absl::StrAppend(&report, "[info] ", text, "\n");
  };
  const CpuFeatures& cpu = platform.cpu;
  line(cpu.sgx, Check::kCpu, cpu.sgx ? "CPU supports SGX" : "CPU does not support SGX");
  if (cpu.sgx) {
    line(cpu.sgx1, Check::kSgx1,
         cpu.sgx1 ? "SGX1 instructions available" : "SGX1 instructions not enabled");
    info(absl::StrCat("SGX2 (dynamic enclave memory): ", cpu.sgx2 ? "yes" : "no",
                      "; flexible launch control: ", cpu.flc ? "yes" : "no", "; KSS: ",
                      cpu.kss ? "yes" : "no", "; AEX-Notify: ", cpu.aex_notify ? "yes" : "no",
                      "; EDECCSSA: ", cpu.edeccssa ? "yes" : "no"));
    if (cpu.max_enclave_size_64 > 0) {
      info(absl::StrCat("largest 64-bit enclave: 2^", cpu.max_enclave_size_64, " bytes"));
    }
    for (const EpcSection& section : platform.epc_sections) {
      info(absl::StrCat("EPC section at 0x", absl::Hex(section.base), ": ", Bytes(section.size),
                        ", ", EpcProtectionName(section.protection), " protection"));
    }
    for (const NumaEpc& node : platform.numa_nodes) {
      info(absl::StrCat("EPC on NUMA node ", node.node, ": ", Bytes(node.bytes)));
    }
    line(platform.epc_total_bytes > 0, Check::kEpc,
         absl::StrCat("EPC total: ", Bytes(platform.epc_total_bytes), " (from ",
                      EpcSourceName(platform.epc_source), ")"));
  }
  const Driver& driver = platform.driver;
  if (driver.enclave_device) {
    line(driver.enclave_device->character_device, Check::kEnclaveDevice,
         absl::StrCat(DriverKindName(driver.kind), " driver: enclave device ",
                      driver.enclave_device->host_path,
                      driver.enclave_device->character_device ? "" : " (not a character device)"));
    if (driver.provision_device) {
      line(driver.provision_device->character_device, Check::kProvisionDevice,
           absl::StrCat(
               "provision device ", driver.provision_device->host_path,
               driver.provision_device->character_device ? "" : " (not a character device)"));
    } else if (driver.kind != DriverKind::kOutOfTree) {
      line(false, Check::kProvisionDevice, "provision device missing");
    }
  } else {
    line(false, Check::kEnclaveDevice, "no SGX driver device found");
  }
  if (platform.aesm_socket) {
    info(absl::StrCat("AESM socket: ", *platform.aesm_socket));
  } else {
    info("AESM socket: not found (only needed for out-of-process quoting)");
  }
  problems_of(Check::kAesm, false);
  info(absl::StrCat("EPC cgroup: ", platform.epc_cgroup.detail));
  // Problems whose check printed no line (for example a provision node that cannot be inspected
  // on an out-of-tree host) still reach the reader.
  for (size_t i = 0; i < platform.problems.size(); ++i) {
    if (!printed[i]) {
      absl::StrAppend(&report, "problem: ", platform.problems[i].text, "\n");
    }
  }
  absl::StrAppend(&report, platform.ready ? "READY: enclaves can be created on this host\n"
                                          : "NOT READY: enclaves cannot be created on this host\n");
  return report;
}

}  // namespace cn::sgx
