#include "src/testing/pccs_standin.h"

#include <httplib.h>

#include <map>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "src/common/check.h"
#include "src/dcap/crypto.h"
#include "src/http/http_client.h"

namespace cn::testing {
namespace {

// The PEM of a CRL in DER, for the PEM encoding option.
std::string CrlPem(const std::string& der) {
  absl::StatusOr<dcap::X509CrlPtr> crl = dcap::ParseDerCrl(der, "stand-in CRL");
  CN_CHECK(crl.ok());
  BIO* bio = BIO_new(BIO_s_mem());
  CN_CHECK(PEM_write_bio_X509_CRL(bio, crl->get()) == 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(length));
  BIO_free(bio);
  return pem;
}

// The path of Intel's root CA CRL at its distribution point
// (https://certificates.trustedservices.intel.com/IntelSGXRootCA.der).
constexpr char kRootCrlDistributionPath[] = "/IntelSGXRootCA.der";

struct Answer {
  std::string body;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
};

}  // namespace

struct PccsStandin::State {
  httplib::Server server;
  std::thread thread;
  int port = 0;

  mutable absl::Mutex mutex;
  // TCB Info by "tee/fmspc", QE Identity by tee, PCK CRL by ca.
  std::map<std::string, dcap::Collateral> tcb_infos ABSL_GUARDED_BY(mutex);
  std::map<std::string, dcap::Collateral> qe_identities ABSL_GUARDED_BY(mutex);
  std::map<std::string, dcap::Collateral> pck_crls ABSL_GUARDED_BY(mutex);
  std::optional<dcap::Collateral> root_crl ABSL_GUARDED_BY(mutex);
  Behaviour behaviour ABSL_GUARDED_BY(mutex) = Behaviour::kServe;
  int fail_status ABSL_GUARDED_BY(mutex) = 500;
  absl::Duration delay ABSL_GUARDED_BY(mutex) = absl::ZeroDuration();
  CrlEncoding root_encoding ABSL_GUARDED_BY(mutex) = CrlEncoding::kHex;
  bool v3_tcb_header ABSL_GUARDED_BY(mutex) = false;
  bool serve_root_crl ABSL_GUARDED_BY(mutex) = true;
  bool intel_pcs ABSL_GUARDED_BY(mutex) = false;
  uint64_t answers ABSL_GUARDED_BY(mutex) = 0;  // for Request-ID
  uint64_t release_generation ABSL_GUARDED_BY(mutex) = 0;
  bool stopping ABSL_GUARDED_BY(mutex) = false;
  std::vector<std::string> requests ABSL_GUARDED_BY(mutex);

  // The answer the API documents for `request`, or nullopt for 404.
  std::optional<Answer> Documented(const httplib::Request& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
    const std::string& path = request.path;
    auto signed_body = [](absl::string_view key, absl::string_view text,
                          absl::string_view signature) {
      return absl::StrCat("{\"", key, "\":", text, ",\"signature\":\"", dcap::HexEncode(signature),
                          "\"}");
    };
    for (const char* tee : {"sgx", "tdx"}) {
      if (path == absl::StrCat("/", tee, "/certification/v4/tcb")) {
        auto it = tcb_infos.find(absl::StrCat(tee, "/", request.get_param_value("fmspc")));
        if (it == tcb_infos.end()) {
          return std::nullopt;
        }
        const dcap::CollateralParts& parts = it->second.parts();
        return Answer{signed_body("tcbInfo", parts.tcb_info, parts.tcb_info_signature),
                      "application/json",
                      {{v3_tcb_header ? "SGX-TCB-Info-Issuer-Chain" : "TCB-Info-Issuer-Chain",
                        http::PercentEncode(parts.tcb_info_issuer_chain)}}};
      }
      if (path == absl::StrCat("/", tee, "/certification/v4/qe/identity")) {
        auto it = qe_identities.find(tee);
        if (it == qe_identities.end()) {
          return std::nullopt;
        }
        const dcap::CollateralParts& parts = it->second.parts();
        return Answer{
            signed_body("enclaveIdentity", parts.qe_identity, parts.qe_identity_signature),
            "application/json",
            {{"SGX-Enclave-Identity-Issuer-Chain",
              http::PercentEncode(parts.qe_identity_issuer_chain)}}};
      }
    }
    if (path == "/sgx/certification/v4/pckcrl") {
      auto it = pck_crls.find(request.get_param_value("ca"));
      if (it == pck_crls.end()) {
        return std::nullopt;
      }
      const dcap::CollateralParts& parts = it->second.parts();
      std::vector<std::pair<std::string, std::string>> headers = {
          {"SGX-PCK-CRL-Issuer-Chain", http::PercentEncode(parts.pck_crl_issuer_chain)}};
      if (intel_pcs && request.get_param_value("encoding") != "der") {
        return Answer{CrlPem(parts.pck_crl), "application/x-pem-file", std::move(headers)};
      }
      return Answer{parts.pck_crl, "application/pkix-crl", std::move(headers)};
    }
    if (intel_pcs) {
      if (path == kRootCrlDistributionPath && root_crl.has_value()) {
        return Answer{root_crl->parts().root_ca_crl, "application/pkix-crl", {}};
      }
      return std::nullopt;  // PCS has no rootcacrl
    }
    if (path == "/sgx/certification/v4/rootcacrl" && root_crl.has_value() && serve_root_crl) {
      const std::string& der = root_crl->parts().root_ca_crl;
      switch (root_encoding) {
        case CrlEncoding::kDer:
          return Answer{der, "application/pkix-crl", {}};
        case CrlEncoding::kPem:
          return Answer{CrlPem(der), "application/x-pem-file", {}};
        case CrlEncoding::kHex:
          return Answer{dcap::HexEncode(der), "text/plain", {}};
      }
    }
    return std::nullopt;
  }

  void Handle(const httplib::Request& request, httplib::Response& response) {
    absl::MutexLock lock(&mutex);
    std::string target = request.path;
    char separator = '?';
    for (const auto& [name, value] : request.params) {
      absl::StrAppend(&target, std::string(1, separator), name, "=", value);
      separator = '&';
    }
    requests.push_back(target);
    if (intel_pcs) {
      response.set_header("Request-ID", absl::StrCat("standin", ++answers));
    }
    if (delay > absl::ZeroDuration()) {
      const uint64_t generation = release_generation;
      auto released = [this, generation]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
        return stopping || release_generation != generation;
      };
      mutex.AwaitWithTimeout(absl::Condition(&released), delay);
    }
    switch (behaviour) {
      case Behaviour::kFail:
        response.status = fail_status;
        response.set_header("Error-Code", "StandinFailure");
        response.set_content("", "text/plain");
        return;
      case Behaviour::kGarbage:
        response.status = 200;
        response.set_content("<html>this is not collateral</html>", "text/html");
        return;
      case Behaviour::kServe:
      case Behaviour::kTruncated:
        break;
    }
    std::optional<Answer> answer = Documented(request);
    if (!answer.has_value()) {
      response.status = 404;
      return;
    }
    response.status = 200;
    for (const auto& [name, value] : answer->headers) {
      response.set_header(name, value);
    }
    if (behaviour == Behaviour::kTruncated) {
      answer->body.resize(answer->body.size() / 2);
    }
    response.set_content(answer->body, answer->content_type);
  }
};

PccsStandin::PccsStandin() : state_(std::make_unique<State>()) {
  auto handler = [this](const httplib::Request& request, httplib::Response& response) {
    state_->Handle(request, response);
  };
  state_->server.Get(".*", handler);
  state_->port = state_->server.bind_to_any_port("127.0.0.1");
  CN_CHECK(state_->port > 0);
  // bind_to_any_port listens already: connections queue until the accept loop runs.
  state_->thread = std::thread([this] { state_->server.listen_after_bind(); });
  // httplib's stop() does nothing until the accept loop has started, so a stand-in destroyed
  // at once would never stop: wait for the loop (httplib offers no notification for it).
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (!state_->server.is_running() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  CN_CHECK(state_->server.is_running());
}

PccsStandin::~PccsStandin() {
  {
    absl::MutexLock lock(&state_->mutex);
    state_->stopping = true;
  }
  state_->server.stop();
  if (state_->thread.joinable()) {
    state_->thread.join();
  }
}

std::string PccsStandin::url() const { return absl::StrCat("http://127.0.0.1:", state_->port); }

void PccsStandin::Serve(const pccs::PlatformId& platform, const dcap::Collateral& collateral) {
  absl::MutexLock lock(&state_->mutex);
  const std::string tee(pccs::TeeName(platform.tee));
  state_->tcb_infos.insert_or_assign(absl::StrCat(tee, "/", dcap::HexEncode(platform.fmspc)),
                                     collateral);
  state_->qe_identities.insert_or_assign(tee, collateral);
  state_->pck_crls.insert_or_assign(std::string(pccs::PckCaName(platform.ca)), collateral);
  state_->root_crl = collateral;
}

void PccsStandin::set_behaviour(Behaviour behaviour, int fail_status) {
  absl::MutexLock lock(&state_->mutex);
  state_->behaviour = behaviour;
  state_->fail_status = fail_status;
}

void PccsStandin::set_delay(absl::Duration delay) {
  absl::MutexLock lock(&state_->mutex);
  state_->delay = delay;
}

void PccsStandin::set_root_crl_encoding(CrlEncoding encoding) {
  absl::MutexLock lock(&state_->mutex);
  state_->root_encoding = encoding;
}

void PccsStandin::set_v3_tcb_header(bool v3) {
  absl::MutexLock lock(&state_->mutex);
  state_->v3_tcb_header = v3;
}

void PccsStandin::set_serve_root_crl(bool serve) {
  absl::MutexLock lock(&state_->mutex);
  state_->serve_root_crl = serve;
}

void PccsStandin::set_intel_pcs_format(bool pcs) {
  absl::MutexLock lock(&state_->mutex);
  state_->intel_pcs = pcs;
}

std::string PccsStandin::root_crl_distribution_url() const {
  return absl::StrCat(url(), kRootCrlDistributionPath);
}

void PccsStandin::ReleaseStalled() {
  absl::MutexLock lock(&state_->mutex);
  ++state_->release_generation;
}

std::vector<std::string> PccsStandin::requests() const {
  absl::MutexLock lock(&state_->mutex);
  return state_->requests;
}

int PccsStandin::request_count() const {
  absl::MutexLock lock(&state_->mutex);
  return static_cast<int>(state_->requests.size());
}

}  // namespace cn::testing
