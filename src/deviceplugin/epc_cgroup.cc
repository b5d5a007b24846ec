#include "src/deviceplugin/epc_cgroup.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "src/common/status_macros.h"

namespace cn::deviceplugin {
namespace {

constexpr absl::string_view kEpcKey = "sgx_epc";

absl::StatusOr<uint64_t> ReadFlatKeyedNumber(const os::FileSystem& host, absl::string_view path,
                                             absl::string_view key) {
  ASSIGN_OR_RETURN(std::string content, host.ReadFile(path));
  std::optional<std::string> value = FlatKeyedValue(content, key);
  if (!value.has_value()) {
    return uint64_t{0};
  }
  uint64_t number = 0;
  if (!absl::SimpleAtoi(*value, &number)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", key, " is \"", *value, "\", not a number"));
  }
  return number;
}

}  // namespace

bool IsPlausiblePodUid(absl::string_view uid) {
  if (uid.empty() || uid.size() > 64) {
    return false;
  }
  for (char c : uid) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != '-') {
      return false;
    }
  }
  return true;
}

std::vector<std::string> PodCgroupCandidates(absl::string_view uid) {
  const std::string root(kCgroupRoot);
  const std::string systemd_uid = absl::StrReplaceAll(uid, {{"-", "_"}});
  return {
      absl::StrCat(root, "/kubepods/pod", uid),
      absl::StrCat(root, "/kubepods/burstable/pod", uid),
      absl::StrCat(root, "/kubepods/besteffort/pod", uid),
      absl::StrCat(root, "/kubepods.slice/kubepods-pod", systemd_uid, ".slice"),
      absl::StrCat(root, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod",
                   systemd_uid, ".slice"),
      absl::StrCat(root, "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod",
                   systemd_uid, ".slice"),
  };
}

absl::StatusOr<std::string> FindPodCgroup(const os::FileSystem& host, absl::string_view uid) {
  if (!IsPlausiblePodUid(uid)) {
    return absl::InvalidArgumentError(
        absl::StrCat("pod UID \"", absl::CEscape(uid), "\" is not a UID; not looking for it"));
  }
  std::vector<std::string> candidates = PodCgroupCandidates(uid);
  for (const std::string& candidate : candidates) {
    absl::StatusOr<os::FileType> type = host.Stat(candidate);
    if (type.ok() && *type == os::FileType::kDirectory) {
      return candidate;
    }
  }
  return absl::NotFoundError(absl::StrCat("no cgroup for pod ", uid, " (looked for ",
                                          absl::StrJoin(candidates, ", "), ")"));
}

std::optional<std::string> FlatKeyedValue(absl::string_view content, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(content, '\n', absl::SkipWhitespace())) {
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() == 2 && fields[0] == key) {
      return std::string(fields[1]);
    }
  }
  return std::nullopt;
}

absl::StatusOr<bool> ApplyEpcLimit(const os::FileSystem& host, absl::string_view cgroup,
                                   uint64_t bytes) {
  const std::string path = os::JoinPath(cgroup, "misc.max");
  absl::StatusOr<std::string> content = host.ReadFile(path);
  if (!content.ok()) {
    if (content.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(absl::StrCat(
          path, " does not exist: the misc controller is not enabled for the pod's cgroup"));
    }
    return content.status();
  }
  std::optional<std::string> current = FlatKeyedValue(*content, kEpcKey);
  if (!current.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " has no sgx_epc line: the kernel cannot limit EPC there"));
  }
  const std::string wanted = absl::StrCat(bytes);
  if (*current == wanted) {
    return false;
  }
  RETURN_IF_ERROR(host.WriteFile(path, absl::StrCat(kEpcKey, " ", wanted)));
  return true;
}

absl::StatusOr<EpcUsage> ReadEpcUsage(const os::FileSystem& host, absl::string_view cgroup) {
  EpcUsage usage;
  ASSIGN_OR_RETURN(usage.current_bytes,
                   ReadFlatKeyedNumber(host, os::JoinPath(cgroup, "misc.current"), kEpcKey));
  ASSIGN_OR_RETURN(usage.limit_hits, ReadFlatKeyedNumber(host, os::JoinPath(cgroup, "misc.events"),
                                                         absl::StrCat(kEpcKey, ".max")));
  return usage;
}

}  // namespace cn::deviceplugin
