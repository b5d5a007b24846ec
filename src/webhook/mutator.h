#pragma once

// Mutator: the /mutate side. Makes pods written for Intel's plugin or the AKS add-on ask for
// what our nodes offer (docs/webhook.md, "Mutation"):
//
//   - in every container and init container, `sgx.intel.com/epc: Q` in requests and in limits
//     becomes `kubernetes.azure.com/sgx_epc_mem_in_MiB: ceil(Q / 1 MiB)` and the Intel entries
//     are removed; nothing else of the container changes. A container that already asks for
//     both names, or whose quantity does not parse, is left alone: the validator refuses it
//     with a message, which a silent guess here would hide;
//   - the container named by the `sgx.intel.com/quote-provider` annotation, if it asks for EPC,
//     gets `sgx.intel.com/provision: 1` (QuoteHelper::kProvision) or the AESM socket directory
//     (hostPath volume `sgx-aesmd`, read-only mount at /var/run/aesmd, SGX_AESM_ADDR=1; each
//     left alone when the container already mounts that path or sets that variable);
//   - each `tolerations` key: {key, operator: Exists, effect: NoSchedule} appended, on pods that
//     ask for any SGX resource, unless a toleration that covers it is there already.
//
// Only Pod CREATE is patched: UPDATE cannot change resources and controllers' templates are
// left alone (their Pods are mutated as they are created). The result is idempotent: a pod
// mutated once gets an empty patch when sent again (reinvocationPolicy: IfNeeded). A pod with
// no SGX resource and no quote-provider annotation returns before anything is copied.
//
// Thread-safe: Mutate is const and keeps no state.

#include <string>
#include <vector>

#include "src/webhook/review.h"

namespace cn::webhook {

enum class QuoteHelper { kProvision, kAesm };

struct MutatorOptions {
  QuoteHelper quote_helper = QuoteHelper::kProvision;
  std::vector<std::string> tolerations;  // --add-toleration keys
};

class Mutator {
 public:
  explicit Mutator(MutatorOptions options) : options_(std::move(options)) {}

  // Always allowed; `patch` holds the operations (empty when nothing changes).
  Verdict Mutate(const Review& review) const;
  // The same on a bare Pod object (the benchmark and tests): the JSON Patch.
  nlohmann::json PatchFor(const nlohmann::json& pod) const;

 private:
  const MutatorOptions options_;
};

}  // namespace cn::webhook
