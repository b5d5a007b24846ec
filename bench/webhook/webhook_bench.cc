// Benchmarks of the admission path (docs/PERFORMANCE.md, "Admission webhook").
//
//   BM_Mutate/<body>     parse + mutate + render of a recorded AdmissionReview, in process:
//                        admissions per second on one core (items_per_second).
//   BM_Validate/<body>   the same for /validate.
//   BM_HttpsMutate       POST /mutate over HTTPS with keep-alive to a cn::http::Server with one
//                        handler thread, one client: the whole request as the API server sees it
//                        (TLS, HTTP, handler), with p50 and p99 of the per-request latency.

#include <httplib.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#include "benchmark/benchmark.h"
#include "src/http/server.h"
#include "src/testing/fake_kube_api.h"
#include "src/testing/temp_dir.h"
#include "src/webhook/service.h"

namespace cn::webhook {
namespace {

std::string Body(const std::string& name) {
  std::ifstream file(std::string(CN_WEBHOOK_TESTDATA) + "/" + name + ".json");
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

struct Fixture {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  Mutator mutator{{.quote_helper = QuoteHelper::kProvision, .tolerations = {"sgx.example/node"}}};
  Validator validator{nullptr};
  WebhookService service{mutator, validator, {}, {"kube-system"}, *registry};
};

void Run(benchmark::State& state, const std::string& name, bool mutate) {
  Fixture fixture;
  http::Request request;
  request.method = "POST";
  request.body = Body(name);
  for (auto _ : state) {
    http::Response response =
        mutate ? fixture.service.Mutate(request) : fixture.service.Validate(request);
    benchmark::DoNotOptimize(response.body.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(request.body.size()));
}

void BM_Mutate(benchmark::State& state, const char* name) { Run(state, name, true); }
void BM_Validate(benchmark::State& state, const char* name) { Run(state, name, false); }

BENCHMARK_CAPTURE(BM_Mutate, intel_style, "intel-style");
BENCHMARK_CAPTURE(BM_Mutate, multi_container, "multi-container");
BENCHMARK_CAPTURE(BM_Mutate, quote_provider, "quote-provider");
BENCHMARK_CAPTURE(BM_Mutate, no_sgx, "no-resources");
BENCHMARK_CAPTURE(BM_Mutate, already_mutated, "already-mutated");
BENCHMARK_CAPTURE(BM_Validate, intel_style, "already-mutated");
BENCHMARK_CAPTURE(BM_Validate, refused, "both-epc-names");

void BM_HttpsMutate(benchmark::State& state) {
  testing::TempDir dir;
  testing::TestTlsFiles tls = testing::MakeTestTls(dir, "", "localhost", "bench-ca");
  Fixture fixture;
  http::ServerOptions options;
  options.host = "127.0.0.1";
  options.tls_cert_file = tls.certificate_file;
  options.tls_key_file = tls.key_file;
  options.threads = 1;
  options.keep_alive_timeout = absl::Seconds(30);
  http::Server server(options, fixture.registry);
  fixture.service.Register(server);
  if (!server.Start().ok()) {
    state.SkipWithError("server did not start");
    return;
  }
  httplib::SSLClient client("localhost", server.port());
  client.set_ca_cert_path(tls.ca_file.c_str());
  client.enable_server_certificate_verification(true);
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);  // as the API server (Go) does: no Nagle delay on the body
  const std::string body = Body("intel-style");
  std::vector<double> latencies;
  latencies.reserve(100000);
  for (auto _ : state) {
    const absl::Time start = absl::Now();
    auto result = client.Post("/mutate?timeout=10s", body, "application/json");
    latencies.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
    if (!result || result->status != 200) {
      state.SkipWithError("request failed");
      break;
    }
  }
  std::sort(latencies.begin(), latencies.end());
  if (!latencies.empty()) {
    state.counters["p50_us"] = latencies[latencies.size() / 2];
    state.counters["p99_us"] =
        latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
  }
  state.SetItemsProcessed(state.iterations());
  server.Stop(absl::Now() + absl::Seconds(5)).IgnoreError();
}
BENCHMARK(BM_HttpsMutate)->UseRealTime();

}  // namespace
}  // namespace cn::webhook

BENCHMARK_MAIN();
