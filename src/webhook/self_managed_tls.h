#pragma once

// SelfManagedTls: `--self-managed-tls`. The webhook makes its own CA and serving certificate,
// keeps them in one Secret, and writes the CA bundle into both webhook configurations.
//
// Two replicas, one truth. Each replica generating its own CA would make them overwrite each
// other's caBundle, and the API server would then refuse the other replica's certificate. So
// the CA and the serving certificate live in the Secret `--tls-secret` (type kubernetes.io/tls,
// keys tls.crt, tls.key, ca.crt, ca.key): the first replica to start creates it (a create is
// atomic: the other gets 409 AlreadyExists and reads the winner's), every replica serves the
// Secret's certificate, and the bundle written into the configurations is the Secret's
// ca.crt, the same text from every replica, so their writes never disagree.
//
// Rotation, before expiry, with no moment in which a served certificate is untrusted:
//   - the serving certificate lives `serving_validity` (1 year) and is renewed when less than a
//     third of it is left, signed by the same CA: the bundle does not change;
//   - the CA lives `authority_validity` (10 years) and is renewed when less than
//     `authority_renew_before` (3 years) is left: the new CA is added to the front of ca.crt
//     (expired CAs are dropped) and becomes the signer, but the serving certificate is renewed
//     only when it is due, by then long after every configuration trusts the new CA;
//   - every change is a PUT carrying the resourceVersion read, so two replicas renewing at the
//     same moment cannot both win: the loser gets 409, reads again and serves the winner's.
// Every `check_interval` (1 min) each replica reads the Secret, serves what it holds (so a
// renewal by the other replica is picked up within a minute) and puts the bundle into any
// webhook of the two configurations whose caBundle differs (a JSON patch with a `test` of the
// webhook's name, so that a concurrent reordering cannot make us patch the wrong entry).
//
// RBAC (deploy/components/webhook): get and update on this one Secret, create on secrets in
// our namespace (create cannot be limited by name), get and patch on the two configurations by
// resourceNames. Nothing else.
//
// Thread safety: SyncOnce from one thread at a time (the loop's, or the caller's before
// Start); Synced from any thread.

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "src/kube/client.h"
#include "src/os/clock.h"

namespace cn::webhook {

struct SelfManagedTlsOptions {
  std::string namespace_name;
  std::string service;
  std::string secret = "sgx-webhook-tls";
  std::string mutating_configuration;
  std::string validating_configuration;
  absl::Duration check_interval = absl::Minutes(1);
  absl::Duration serving_validity = absl::Hours(24 * 365);
  absl::Duration authority_validity = absl::Hours(24 * 365 * 10);
  absl::Duration authority_renew_before = absl::Hours(24 * 365 * 3);
};

class SelfManagedTls {
 public:
  // Called with the certificate (PEM) and key to serve, whenever they change.
  using Install =
      std::function<absl::Status(const std::string& certificate_pem, const std::string& key_pem)>;

  // `api` and `clock` must outlive this object.
  SelfManagedTls(SelfManagedTlsOptions options, const kube::ApiClient& api, const os::Clock& clock,
                 Install install);
  ~SelfManagedTls();  // Stop()

  // One round: read (or create) the Secret, renew what is due, install the certificate when it
  // changed, and bring both configurations' caBundle up to date. The first error, naming the
  // object; a missing webhook configuration is not an error (it is logged once: the webhook may
  // be started before the configuration is applied).
  absl::Status SyncOnce();

  // Runs SyncOnce every check_interval on a thread (errors are logged and retried after
  // 5 s, doubling to the interval).
  void Start();
  void Stop();

  // True once a certificate from the Secret has been installed.
  bool Synced() const { return synced_.load(); }

  // The DNS names the serving certificate carries: SERVICE.NAMESPACE.svc and its shorter and
  // longer forms.
  std::vector<std::string> DnsNames() const;

 private:
  absl::Status EnsureCaBundle(const std::string& configuration_path, const std::string& bundle);

  const SelfManagedTlsOptions options_;
  const kube::ApiClient& api_;
  const os::Clock& clock_;
  const Install install_;
  std::string installed_;  // certificate + key last installed
  std::vector<std::string> missing_logged_;
  std::atomic<bool> synced_{false};
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace cn::webhook
