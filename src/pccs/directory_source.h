#pragma once

// DirectoryCollateralSource: offline collateral for air-gapped sites (--collateral-dir DIR).
//
// Every `*.json` in DIR (not recursive) is one collateral file in sgx-quote's --collateral layout
// (DESIGN.md section 6). Each is indexed by the platform it serves: the FMSPC and TEE ("SGX" or
// "TDX"; TCB Info v2 has no id and is SGX) of its TCB Info, and the PCK CA named by its PCK CRL's
// issuer (common name ending in "PCK Processor CA" or "PCK Platform CA", as Intel's and test
// roots name them). Nothing is verified here: files are taken as they are, and the verifier judges
// a quote against them at attestation time with sgx-quote's codes. Two files for one platform:
// the one whose TCB Info has the later nextUpdate serves (the freshest).
//
// The directory is read once, at Load. Thread safety: Get may run on many threads at once.

#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/os/file_system.h"
#include "src/pccs/collateral_source.h"

namespace cn::pccs {

class DirectoryCollateralSource : public CollateralSource {
 public:
  // InvalidArgument naming the file (and the key) for a *.json that is not collateral JSON, whose
  // TCB Info text has no FMSPC, or whose PCK CRL does not parse or names neither PCK CA; an error
  // naming DIR when it cannot be listed.
  static absl::StatusOr<std::unique_ptr<DirectoryCollateralSource>> Load(
      const os::FileSystem& files, absl::string_view directory);

  // NotFound naming the platform and DIR when no file serves it; never waits.
  absl::StatusOr<std::shared_ptr<const dcap::Collateral>> Get(const PlatformId& platform,
                                                              absl::Time deadline) override;

  size_t size() const { return index_.size(); }

 private:
  using Key = std::tuple<std::array<uint8_t, 6>, PckCa, Tee>;
  struct Entry {
    std::shared_ptr<const dcap::Collateral> collateral;
    std::string next_update;  // TCB Info's, RFC 3339 (compares as text)
    std::string file;
  };

  std::string directory_;
  std::map<Key, Entry> index_;
};

}  // namespace cn::pccs
