#include "src/http/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <mutex>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "src/common/check.h"

namespace cn::http {
namespace {

// curl_global_init is not thread-safe and must precede every other libcurl call; once per
// process, never undone (curl_global_cleanup at exit would race with late users).
void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { CN_CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK); });
}

struct CurlDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;

struct Transfer {
  HttpResponse response;
  size_t max_body_bytes = 0;
  bool body_too_large = false;
  CURL* handle = nullptr;
  const std::function<bool(absl::string_view)>* on_body = nullptr;
  bool stopped_by_caller = false;
};

bool Streaming(Transfer* transfer) {
  if (transfer->on_body == nullptr || !*transfer->on_body) {
    return false;
  }
  long status = 0;
  curl_easy_getinfo(transfer->handle, CURLINFO_RESPONSE_CODE, &status);
  return status == 200;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  if (Streaming(transfer)) {
    if (!(*transfer->on_body)(absl::string_view(data, bytes))) {
      transfer->stopped_by_caller = true;
      return 0;
    }
    return bytes;
  }
  if (transfer->response.body.size() + bytes > transfer->max_body_bytes) {
    transfer->body_too_large = true;
    return 0;  // makes libcurl abort with CURLE_WRITE_ERROR
  }
  transfer->response.body.append(data, bytes);
  return bytes;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  if (Streaming(transfer) && !(*transfer->on_body)(absl::string_view())) {
    transfer->stopped_by_caller = true;
    return 1;  // aborts with CURLE_ABORTED_BY_CALLBACK
  }
  return 0;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  absl::string_view line(data, bytes);
  if (absl::StartsWith(line, "HTTP/")) {
    // A new response (after a 100 Continue or an interim answer): forget earlier headers.
    transfer->response.headers.clear();
    return bytes;
  }
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) {
    return bytes;  // the blank line that ends the headers, or a malformed line: ignored
  }
  std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, colon)));
  transfer->response.headers[std::move(name)] =
      std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  return bytes;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

const std::string* HttpResponse::Header(absl::string_view name) const {
  auto it = headers.find(absl::AsciiStrToLower(name));
  return it == headers.end() ? nullptr : &it->second;
}

HttpClient::HttpClient(Options options, const os::Clock* clock)
    : options_(std::move(options)), clock_(clock) {
  InitCurlOnce();
}

absl::StatusOr<HttpResponse> HttpClient::Get(absl::string_view url,
                                             const HttpRequestOptions& options) const {
  HttpRequest request;
  request.url = std::string(url);
  return Send(request, options);
}

// Send: the general request (method, body, headers, per-request TLS); Get is Send of a GET.
namespace {

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

bool HasLineBreak(absl::string_view text) {
  return text.find_first_of("\r\n") != absl::string_view::npos;
}

// A blob for CURLOPT_*_BLOB: libcurl copies it (CURL_BLOB_COPY), so `pem` need not outlive it.
curl_blob Blob(const std::string& pem) {
  curl_blob blob;
  blob.data = const_cast<char*>(pem.data());
  blob.len = pem.size();
  blob.flags = CURL_BLOB_COPY;
  return blob;
}

}  // namespace

absl::StatusOr<HttpResponse> HttpClient::Send(const HttpRequest& request,
                                              const HttpRequestOptions& options) const {
  const std::string what = absl::StrCat(request.method, " ", request.url);
  static constexpr absl::string_view kMethods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
  if (std::find(std::begin(kMethods), std::end(kMethods), request.method) == std::end(kMethods)) {
    return absl::InvalidArgumentError(absl::StrCat("HTTP method \"", request.method,
                                                   "\" is not one of GET, HEAD, POST, PUT, "
                                                   "PATCH, DELETE"));
  }
  if (!absl::StartsWith(request.url, "http://") && !absl::StartsWith(request.url, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("URL \"", request.url, "\" is not http:// or https://"));
  }
  SlistPtr headers;
  auto add_header = [&headers](const std::string& line) {
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
    return headers != nullptr;
  };
  for (const auto& [name, value] : request.headers) {
    if (name.empty() || HasLineBreak(name) || HasLineBreak(value) ||
        name.find(':') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": header \"", absl::CEscape(name),
                                                     "\" is empty or contains a colon, CR or LF"));
    }
    if (!add_header(absl::StrCat(name, ": ", value))) {
      return absl::ResourceExhaustedError("libcurl could not allocate a header list");
    }
  }
  if (HasLineBreak(request.content_type)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": the content type contains CR or LF"));
  }
  if (!request.content_type.empty() &&
      !add_header(absl::StrCat("Content-Type: ", request.content_type))) {
    return absl::ResourceExhaustedError("libcurl could not allocate a header list");
  }
  // libcurl adds "Expect: 100-continue" to larger bodies, one more round trip for nothing.
  if (!add_header("Expect:")) {
    return absl::ResourceExhaustedError("libcurl could not allocate a header list");
  }

  const absl::Duration left = options.deadline - clock_->Now();
  const absl::Duration bound = std::min(options.timeout, left);
  const long timeout_ms = static_cast<long>(absl::ToInt64Milliseconds(bound));
  if (timeout_ms < 1) {
    return absl::DeadlineExceededError(
        absl::StrCat(what, ": the deadline passed before the request was sent"));
  }
  CurlPtr curl(curl_easy_init());
  if (curl == nullptr) {
    return absl::ResourceExhaustedError("libcurl could not create a handle");
  }
  CURL* handle = curl.get();
  Transfer transfer;
  transfer.max_body_bytes = options.max_body_bytes;
  transfer.handle = handle;
  transfer.on_body = &options.on_body;
  char error_buffer[CURL_ERROR_SIZE] = {};

  curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 2L);
  const TlsOptions& tls = request.tls;
  if (!tls.ca_pem.empty() || !tls.ca_file.empty()) {
    // A CA of the request's own (a cluster's) is the only trust anchor: no system CA
    // directory besides it, as kubectl trusts only the kubeconfig's CA.
    curl_easy_setopt(handle, CURLOPT_CAPATH, nullptr);
  }
  if (!tls.ca_pem.empty()) {
    curl_blob blob = Blob(tls.ca_pem);
    curl_easy_setopt(handle, CURLOPT_CAINFO_BLOB, &blob);
  } else if (!tls.ca_file.empty()) {
    curl_easy_setopt(handle, CURLOPT_CAINFO, tls.ca_file.c_str());
  } else if (!options_.ca_file.empty()) {
    curl_easy_setopt(handle, CURLOPT_CAINFO, options_.ca_file.c_str());
  }
  if (!tls.client_certificate_pem.empty()) {
    curl_blob certificate = Blob(tls.client_certificate_pem);
    curl_easy_setopt(handle, CURLOPT_SSLCERT_BLOB, &certificate);
    curl_easy_setopt(handle, CURLOPT_SSLCERTTYPE, "PEM");
    curl_blob key = Blob(tls.client_key_pem);
    curl_easy_setopt(handle, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(handle, CURLOPT_SSLKEYTYPE, "PEM");
  }
  curl_easy_setopt(handle, CURLOPT_USERAGENT, options_.user_agent.c_str());
  if (options.on_body) {
    curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, &OnProgress);
    curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &transfer);
    curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
  } else {
    curl_easy_setopt(handle, CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(options.max_body_bytes));
  }
  if (request.method == "HEAD") {
    curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
      request.method == "PATCH") {
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer);

  const CURLcode code = curl_easy_perform(handle);
  if (transfer.stopped_by_caller) {
    transfer.response.status = 200;
    return std::move(transfer.response);
  }
  if (transfer.body_too_large || code == CURLE_FILESIZE_EXCEEDED) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what, ": the response body exceeds ", options.max_body_bytes, " bytes"));
  }
  if (code != CURLE_OK) {
    const std::string reason = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    if (code == CURLE_OPERATION_TIMEDOUT) {
      return absl::DeadlineExceededError(absl::StrCat(
          what, ": no complete answer within ", absl::FormatDuration(bound), " (", reason, ")"));
    }
    if (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": ", reason));
    }
    return absl::UnavailableError(absl::StrCat(what, ": ", reason));
  }
  long status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  transfer.response.status = static_cast<int>(status);
  return std::move(transfer.response);
}

absl::StatusOr<std::string> PercentDecode(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    const bool complete = i + 2 < text.size();
    const int high = complete ? HexValue(text[i + 1]) : -1;
    const int low = complete ? HexValue(text[i + 2]) : -1;
    if (high < 0 || low < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad percent escape at offset ", i, " (a '%' must precede two hex digits)"));
    }
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

std::string PercentEncode(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    }
  }
  return out;
}

}  // namespace cn::http
