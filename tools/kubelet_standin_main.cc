// kubelet-standin: plays the kubelet for device plugins. It serves kubelet.sock, waits for
// plugins to register, then for each one does what the kubelet does before a pod starts:
// GetDevicePluginOptions, ListAndWatch, GetPreferredAllocation, Allocate. It prints what a
// container would receive. With --socket it checks one plugin socket without registration.
//
// Exit status: 0 when every step worked, 1 when a plugin misbehaved or did not register in
// time, 2 for bad flags.

#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/kubelet_standin.h"

namespace {

struct Settings {
  std::string kubelet_dir;
  std::string socket;
  std::string resource;
  int expect = 1;
  int timeout_seconds = 10;
  int count = 1;
  int epc_mib = 10;
};

constexpr absl::string_view kEpcResource = "kubernetes.azure.com/sgx_epc_mem_in_MiB";

// Exercises one plugin as the kubelet would for one container. Returns false on any failure.
bool Exercise(const Settings& settings, const std::string& resource, const std::string& socket) {
  const absl::Duration timeout = absl::Seconds(settings.timeout_seconds);
  cn::tools::PluginClient client(socket);
  std::printf("\n== %s (socket %s)\n", resource.c_str(), socket.c_str());

  auto options = client.GetOptions(timeout);
  if (!options.ok()) {
    std::printf("  FAILED %s\n", std::string(options.status().message()).c_str());
    return false;
  }
  std::printf("  options: pre_start_required=%s get_preferred_allocation_available=%s\n",
              options->pre_start_required() ? "true" : "false",
              options->get_preferred_allocation_available() ? "true" : "false");

  auto devices = client.ListOnce(timeout);
  if (!devices.ok()) {
    std::printf("  FAILED %s\n", std::string(devices.status().message()).c_str());
    return false;
  }
  std::printf("  ListAndWatch: %s\n", cn::tools::DescribeDevices(*devices).c_str());
  bool good = true;
  for (const std::string& problem : cn::tools::CheckDevices(*devices)) {
    std::printf("  PROBLEM %s\n", problem.c_str());
    good = false;
  }

  std::vector<std::string> healthy;
  for (const auto& device : devices->devices()) {
    if (device.health() == "Healthy") {
      healthy.push_back(device.id());
    }
  }
  const int wanted = resource == kEpcResource ? settings.epc_mib : settings.count;
  if (static_cast<int>(healthy.size()) < wanted) {
    std::printf("  FAILED only %zu healthy devices, a container asking for %d cannot start\n",
                healthy.size(), wanted);
    return false;
  }
  std::vector<std::string> chosen(healthy.begin(), healthy.begin() + wanted);
  if (options->get_preferred_allocation_available()) {
    v1beta1::PreferredAllocationRequest request;
    auto* container = request.add_container_requests();
    for (const std::string& id : healthy) {
      container->add_available_deviceids(id);
    }
    container->set_allocation_size(wanted);
    auto preferred = client.GetPreferredAllocation(request, timeout);
    if (!preferred.ok()) {
      std::printf("  FAILED %s\n", std::string(preferred.status().message()).c_str());
      return false;
    }
    if (preferred->container_responses_size() == 1 &&
        preferred->container_responses(0).deviceids_size() == wanted) {
      chosen.assign(preferred->container_responses(0).deviceids().begin(),
                    preferred->container_responses(0).deviceids().end());
    } else {
      std::printf("  PROBLEM GetPreferredAllocation did not answer %d IDs for one container\n",
                  wanted);
      good = false;
    }
  }
  std::string shown = chosen.size() <= 4
                          ? absl::StrJoin(chosen, ", ")
                          : absl::StrCat(chosen.front(), ", ", chosen[1], " .. ", chosen.back());
  std::printf("  Allocate %d device(s): %s\n", wanted, shown.c_str());
  auto allocation = client.Allocate(cn::tools::AllocateRequestFor(chosen), timeout);
  if (!allocation.ok()) {
    std::printf("  FAILED %s\n", std::string(allocation.status().message()).c_str());
    return false;
  }
  if (allocation->container_responses_size() != 1) {
    std::printf("  PROBLEM %d container responses for 1 container request\n",
                allocation->container_responses_size());
    return false;
  }
  std::printf("  a container asking for %s: %d would receive:\n%s", resource.c_str(), wanted,
              cn::tools::DescribeAllocation(allocation->container_responses(0)).c_str());
  return good;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  CLI::App app(
      "Plays the kubelet for device plugins: serves kubelet.sock, records registrations, then "
      "lists, prefers and allocates devices on each registered plugin and prints what a "
      "container would receive.",
      "kubelet-standin");
  app.add_option("--kubelet-dir", settings.kubelet_dir,
                 "device plugin directory to serve kubelet.sock in");
  app.add_option("--socket", settings.socket,
                 "check this plugin socket directly, without registration");
  app.add_option("--resource", settings.resource, "resource name of --socket (for the output)");
  app.add_option("--expect", settings.expect, "registrations to wait for")->capture_default_str();
  app.add_option("--timeout", settings.timeout_seconds, "seconds to wait for each step")
      ->capture_default_str();
  app.add_option("--count", settings.count, "devices to allocate from shared-slot resources")
      ->capture_default_str();
  app.add_option("--epc-mib", settings.epc_mib, "MiB to allocate from the EPC resource")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  if (settings.kubelet_dir.empty() == settings.socket.empty()) {
    std::fprintf(stderr, "kubelet-standin: give exactly one of --kubelet-dir and --socket\n");
    return 2;
  }
  if (settings.expect < 1 || settings.timeout_seconds < 1 || settings.count < 1 ||
      settings.epc_mib < 1) {
    std::fprintf(stderr,
                 "kubelet-standin: --expect, --timeout, --count and --epc-mib must be positive\n");
    return 2;
  }
  setvbuf(stdout, nullptr, _IOLBF, 0);

  if (!settings.socket.empty()) {
    return Exercise(settings, settings.resource.empty() ? "(resource)" : settings.resource,
                    settings.socket)
               ? 0
               : 1;
  }
  auto standin = cn::tools::KubeletStandin::Start(settings.kubelet_dir);
  if (!standin.ok()) {
    std::fprintf(stderr, "kubelet-standin: %s\n", std::string(standin.status().message()).c_str());
    return 1;
  }
  std::printf("kubelet stand-in listening on %s; waiting for %d registration(s)\n",
              (*standin)->socket_path().c_str(), settings.expect);
  bool complete = (*standin)->WaitForRegistrations(static_cast<size_t>(settings.expect),
                                                   absl::Seconds(settings.timeout_seconds));
  std::vector<v1beta1::RegisterRequest> registrations = (*standin)->Registrations();
  bool good = complete;
  if (!complete) {
    std::printf("FAILED only %zu of %d plugin(s) registered within %d s\n", registrations.size(),
                settings.expect, settings.timeout_seconds);
  }
  for (const v1beta1::RegisterRequest& registration : registrations) {
    std::printf("registered: resource %s, endpoint %s, version %s, preferred allocation %s\n",
                registration.resource_name().c_str(), registration.endpoint().c_str(),
                registration.version().c_str(),
                registration.options().get_preferred_allocation_available() ? "yes" : "no");
    if (registration.version() != "v1beta1" || registration.endpoint().empty() ||
        registration.endpoint().find('/') != std::string::npos) {
      std::printf("  PROBLEM version must be v1beta1 and the endpoint a file name in %s\n",
                  settings.kubelet_dir.c_str());
      good = false;
    }
  }
  for (const v1beta1::RegisterRequest& registration : registrations) {
    good = Exercise(settings, registration.resource_name(),
                    absl::StrCat(settings.kubelet_dir, "/", registration.endpoint())) &&
           good;
  }
  std::printf("\n%s\n", good ? "OK: every plugin registered, listed and allocated"
                             : "FAILED: see the lines marked FAILED or PROBLEM above");
  return good ? 0 : 1;
}
