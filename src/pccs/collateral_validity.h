#pragma once

// When a set of collateral stops being current: the earliest nextUpdate of its four dated items
// (root CA CRL, PCK CRL, TCB Info, QE Identity). Intel publishes a replacement before each item's
// nextUpdate, and the verifier rejects an item past it (collateral_expired), so a cache must
// fetch again before this time and may keep serving its copy until then.
//
// Nothing is verified here (signatures, chains and windows are the verifier's); this only reads
// dates so that a cache can schedule refreshes and refuse answers that are not collateral at all.

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/dcap/collateral.h"

namespace cn::pccs {

struct CollateralValidity {
  absl::Time not_before;   // the latest thisUpdate / issueDate of the four items
  absl::Time next_update;  // the earliest nextUpdate of the four items
};

// InvalidArgument naming the item when a CRL does not parse as DER or has no nextUpdate, or the
// TCB Info / QE Identity text is not a JSON object with RFC 3339 issueDate and nextUpdate.
absl::StatusOr<CollateralValidity> ValidityOf(const dcap::Collateral& collateral);

}  // namespace cn::pccs
