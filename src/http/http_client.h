#pragma once

// HttpClient: the one outbound HTTP(S) client (libcurl), for the PCS/PCCS collateral client and
// anything else that must fetch over the network with a bound on time and memory.
//
// What a caller gets:
//   - GET only, one request per call, no redirects followed (a collateral service that redirects
//     is misconfigured; following blindly would let it point us anywhere);
//   - a total time bound per request: the smaller of `timeout` and what is left until `deadline`
//     (the whole exchange, connect included, is cut off then);
//   - a bound on the body: a larger body stops the transfer and is an error, so a broken or
//     hostile upstream cannot make us buffer without limit;
//   - TLS always verified (peer certificate and host name), against the system CA store or
//     `Options::ca_file`;
//   - every response header, names lowercased (HTTP header names are case-insensitive).
//
// Errors (a non-2xx status is NOT an error: the caller decides what a 404 means):
//   InvalidArgument    the URL is malformed or not http/https;
//   DeadlineExceeded   the time bound ran out (or was already over);
//   ResourceExhausted  the body exceeded max_body_bytes;
//   Unavailable        connection refused, DNS, TLS or any other transfer failure; the message
//                      names the URL and libcurl's reason.
//
// Thread safety: Get may be called from many threads at once; every call has its own curl
// handle and libcurl's global initialisation happens once, before the first handle.

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/os/clock.h"

namespace cn::http {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercased names; a repeated header keeps the last
  std::string body;

  // The header's value, or nullptr when absent. `name` in any case.
  const std::string* Header(absl::string_view name) const;
};

// TLS material for one request (Send). Empty fields fall back to the client's Options: the CA
// to the client's ca_file or the system store; no client certificate is sent without one. A CA
// given here is the only one trusted (the system CA directory is not consulted besides it).
struct TlsOptions {
  std::string ca_file = "";  // PEM bundle path, read by libcurl at each request
  std::string ca_pem = "";   // PEM bundle in memory (kubeconfig certificate-authority-data)
  std::string client_certificate_pem =
      "";                           // client certificate (kubeconfig client-certificate-data)
  std::string client_key_pem = "";  // its private key; never logged
};

// What Send sends. Header names and values are sent as given.
struct HttpRequest {
  std::string method = "GET";
  std::string url = "";
  std::string body = "";          // sent when non-empty (or when the method is POST/PUT/PATCH)
  std::string content_type = "";  // Content-Type of the body; empty sends none
  std::vector<std::pair<std::string, std::string>> headers =
      {};  // e.g. {"Authorization", "Bearer x"}
  TlsOptions tls = {};
};

struct HttpRequestOptions {
  absl::Duration timeout = absl::Seconds(5);
  absl::Time deadline = absl::InfiniteFuture();
  size_t max_body_bytes = 16 << 20;
  // Streaming (a Kubernetes watch): when set, the body of a 200 answer is handed over as it
  // arrives instead of being kept in HttpResponse::body, and max_body_bytes does not apply to
  // it (the callback bounds what it keeps). It is also called with an empty chunk about once a
  // second while the stream is idle. Returning false ends the transfer early: Send then returns
  // the response (status and headers, empty body) as if the server had closed the stream.
  // A non-200 answer's body is kept in HttpResponse::body as usual.
  std::function<bool(absl::string_view chunk)> on_body = nullptr;
};

class HttpClient {
 public:
  struct Options {
    // PEM bundle of CAs to trust instead of the system store (tests, private PCCS CAs).
    std::string ca_file;
    std::string user_agent = "confidential-nodes";
  };

  // `clock` measures what is left until a request's deadline; it must outlive the client.
  HttpClient(Options options, const os::Clock* clock);

  absl::StatusOr<HttpResponse> Get(absl::string_view url, const HttpRequestOptions& options) const;

  // A request of any method with a body and extra headers, and TLS settings of its own (for the
  // Kubernetes API server: bearer tokens, client certificates, the cluster's CA). The same
  // bounds, verification and error mapping as Get; messages start with the method and URL.
  // Additionally InvalidArgument for a method outside GET/HEAD/POST/PUT/PATCH/DELETE or a header
  // name or value containing CR or LF (which would let a value inject headers).
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request,
                                    const HttpRequestOptions& options) const;

 private:
  Options options_;
  const os::Clock* clock_;
};

// Decodes %XX escapes (RFC 3986), as PCS issuer chain headers are sent. '+' stays '+': PEM's
// base64 uses it and PCS escapes it as %2B. InvalidArgument for a '%' not followed by two hex
// digits.
absl::StatusOr<std::string> PercentDecode(absl::string_view text);
// Escapes every byte outside RFC 3986's unreserved set (for tests and stand-ins).
std::string PercentEncode(absl::string_view text);

}  // namespace cn::http
