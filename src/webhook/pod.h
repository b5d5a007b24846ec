#pragma once

// Reading a Pod's SGX requests, tolerant of odd input (fields missing, null or of the wrong JSON
// type are simply not there): the shared ground of the mutator and the validator.
//
// Pure functions of the Pod JSON; thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace cn::webhook {

// The resource names (DESIGN.md section 2).
inline constexpr absl::string_view kIntelEpc = "sgx.intel.com/epc";
inline constexpr absl::string_view kEpcMiB = "kubernetes.azure.com/sgx_epc_mem_in_MiB";
inline constexpr absl::string_view kEnclave = "sgx.intel.com/enclave";
inline constexpr absl::string_view kProvision = "sgx.intel.com/provision";
// Intel's convention: the container that talks to the quoting enclave.
inline constexpr absl::string_view kQuoteProviderAnnotation = "sgx.intel.com/quote-provider";

struct ContainerRef {
  const char* list;  // "containers" or "initContainers"
  size_t index;
  std::string name;              // empty when the container has none (the API server refuses it)
  const nlohmann::json* object;  // a JSON object
};

// Every container and init container that is a JSON object, init containers first.
std::vector<ContainerRef> Containers(const nlohmann::json& pod);

// resources.requests / resources.limits of a container, when they are objects; else nullptr.
const nlohmann::json* ResourceMap(const nlohmann::json& container, const char* which);

// A quantity's text: a JSON string as is, a JSON number as the API server would print it;
// nullopt for anything else.
std::optional<std::string> QuantityText(const nlohmann::json& value);

// Whether the container asks for any SGX resource (either EPC name, enclave or provision).
bool AsksForSgx(const nlohmann::json& container);
// Whether the container asks for EPC under either name, in requests or limits.
bool AsksForEpc(const nlohmann::json& container);

// The pod's annotation, or nullopt when it is absent or not a string.
std::optional<std::string> Annotation(const nlohmann::json& pod, absl::string_view key);

// The EPC the container asks for, in MiB, from `kEpcMiB` or `kIntelEpc` in limits (or requests
// when it has no limit): 0 when it asks for none; an error naming the value when it does not
// parse.
absl::StatusOr<int64_t> ContainerEpcMiB(const nlohmann::json& container);

}  // namespace cn::webhook
