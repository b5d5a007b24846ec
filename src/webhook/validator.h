#pragma once

// Validator: the /validate side (a ValidatingWebhookConfiguration, after every mutation). It
// refuses, with a message that names the container and the value (docs/webhook.md,
// "Validation"):
//   - a container that asks for both sgx.intel.com/epc and
//     kubernetes.azure.com/sgx_epc_mem_in_MiB (one pool, one name: which one did it mean?);
//   - an EPC quantity that does not parse, or EPC requests that differ from the limits (or a
//     request without a limit): device resources cannot be overcommitted;
//   - a sgx.intel.com/quote-provider annotation that names no container of the pod, or one that
//     asks for no EPC.
// A pod whose EPC is more than the largest SGX node offers (EpcCapacity) is allowed with an
// admission warning naming that node and its EPC: the cluster autoscaler may be about to add a
// larger node, and the pod waits Pending with the scheduler's reason meanwhile.
//
// Only Pod CREATE is checked; everything else is allowed as is (resources cannot change on
// UPDATE, and refusing updates of pods that exist already would only get in the way).
//
// Thread-safe when the EpcCapacity is.

#include <cstdint>
#include <optional>
#include <string>

#include "src/webhook/review.h"

namespace cn::webhook {

// The largest EPC a node of the cluster offers, from the node cache.
class EpcCapacity {
 public:
  struct Largest {
    std::string node;  // empty when no node offers EPC
    int64_t epc_mib = 0;
  };
  virtual ~EpcCapacity() = default;
  // nullopt when unknown (the cache is off or has not synced): no warning is given then.
  virtual std::optional<Largest> LargestNode() const = 0;
};

class Validator {
 public:
  // `capacity` may be null (no node cache) and must outlive the validator.
  explicit Validator(const EpcCapacity* capacity) : capacity_(capacity) {}

  Verdict Validate(const Review& review) const;
  // The same on a bare Pod (tests).
  Verdict ValidatePod(const nlohmann::json& pod) const;

 private:
  const EpcCapacity* capacity_;
};

}  // namespace cn::webhook
