#include "src/testing/fake_kube_api.h"

#include <httplib.h>
#include <openssl/pem.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/common/check.h"
#include "src/testing/test_pki.h"

namespace cn::testing {
namespace {

constexpr absl::string_view kNodesPrefix = "/api/v1/nodes/";

std::string PrivateKeyPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  CN_CHECK(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(length));
  BIO_free(bio);
  return pem;
}

std::string StatusBody(int code, const std::string& reason, const std::string& message) {
  return nlohmann::json{{"kind", "Status"},   {"apiVersion", "v1"}, {"status", "Failure"},
                        {"message", message}, {"reason", reason},   {"code", code}}
      .dump();
}

std::map<std::string, std::string> StringMap(const nlohmann::json& node, const char* key) {
  std::map<std::string, std::string> out;
  if (node.contains("metadata") && node["metadata"].contains(key)) {
    for (const auto& [name, value] : node["metadata"][key].items()) {
      out[name] = value.get<std::string>();
    }
  }
  return out;
}

}  // namespace

TestTlsFiles MakeTestTls(const TempDir& dir, const std::string& prefix,
                         const std::string& common_name, const std::string& ca_name) {
  const absl::Time now = absl::Now();
  dcap::EvpPkeyPtr ca_key = GenerateP256Key();
  dcap::X509Ptr ca = IssueCertificate({.common_name = ca_name,
                                       .subject_key = ca_key.get(),
                                       .not_before = now - absl::Hours(1),
                                       .not_after = now + absl::Hours(24),
                                       .is_ca = true});
  dcap::EvpPkeyPtr key = GenerateP256Key();
  dcap::X509Ptr leaf = IssueCertificate({.common_name = common_name,
                                         .subject_key = key.get(),
                                         .issuer = ca.get(),
                                         .issuer_key = ca_key.get(),
                                         .serial = 2,
                                         .not_before = now - absl::Hours(1),
                                         .not_after = now + absl::Hours(24)});
  TestTlsFiles files;
  files.ca_pem = CertificatePem(ca.get());
  files.certificate_pem = CertificatePem(leaf.get());
  files.key_pem = PrivateKeyPem(key.get());
  files.ca_file = dir.WriteFile(prefix + "ca.pem", files.ca_pem);
  files.certificate_file = dir.WriteFile(prefix + "cert.pem", files.certificate_pem);
  files.key_file = dir.WriteFile(prefix + "key.pem", files.key_pem);
  return files;
}

FakeKubeApi::FakeKubeApi() : tls_(MakeTestTls(dir_, "server-", "localhost", "fake-kube-ca")) {
  server_ =
      std::make_unique<httplib::SSLServer>(tls_.certificate_file.c_str(), tls_.key_file.c_str());
  CN_CHECK(server_->is_valid());
  auto handle = [this](const httplib::Request& request, httplib::Response& response) {
    absl::MutexLock lock(&mutex_);
    requests_.push_back({request.method, request.path, request.get_header_value("Content-Type"),
                         request.get_header_value("Authorization"), request.body});
    auto fail = [&response](int code, const std::string& reason, const std::string& message) {
      response.status = code;
      response.set_content(StatusBody(code, reason, message), "application/json");
    };
    if (request.get_header_value("Authorization") != absl::StrCat("Bearer ", token_)) {
      return fail(401, "Unauthorized", "Unauthorized");
    }
    if (fail_next_count_ > 0) {
      --fail_next_count_;
      return fail(fail_next_status_, "InjectedFailure", "injected failure");
    }
    if (fail_status_ != 0) {
      return fail(fail_status_, "InjectedFailure",
                  fail_status_ == 403 ? "nodes \"x\" is forbidden: User cannot patch resource"
                                      : "injected failure");
    }
    if (request.path == "/api/v1/nodes" && request.method == "GET") {
      if (request.has_param("watch")) {
        int64_t from = 0;
        if (!absl::SimpleAtoi(request.get_param_value("resourceVersion"), &from)) {
          from = 0;  // no resourceVersion: every event
        }
        int seconds = 60;
        if (!absl::SimpleAtoi(request.get_param_value("timeoutSeconds"), &seconds)) {
          seconds = 60;
        }
        const absl::Time end = absl::Now() + absl::Seconds(seconds);
        ++open_watches_;
        response.set_chunked_content_provider(
            "application/json", [this, from, end](size_t, httplib::DataSink& sink) mutable {
              absl::MutexLock stream_lock(&mutex_);
              auto pending = [&] {
                return stopping_ || (!node_events_.empty() && node_events_.back().first > from);
              };
              mutex_.AwaitWithDeadline(absl::Condition(&pending),
                                       std::min(end, absl::Now() + absl::Milliseconds(100)));
              for (const auto& [version, event] : node_events_) {
                if (version > from) {
                  const std::string line = event.dump() + "\n";
                  if (!sink.write(line.data(), line.size())) {
                    --open_watches_;
                    return false;
                  }
                  from = version;
                }
              }
              if (stopping_ || absl::Now() >= end) {
                --open_watches_;
                sink.done();
              }
              return true;
            });
        return;
      }
      nlohmann::json list = {{"kind", "NodeList"},
                             {"apiVersion", "v1"},
                             {"metadata", {{"resourceVersion", std::to_string(resource_version_)}}},
                             {"items", nlohmann::json::array()}};
      for (const auto& [unused, node] : nodes_) {
        list["items"].push_back(node);
      }
      response.set_content(list.dump(), "application/json");
      return;
    }
    if (!absl::StartsWith(request.path, kNodesPrefix)) {
      int status = 200;
      std::string answer;
      if (!HandleGeneric(request.method, request.path, request.get_header_value("Content-Type"),
                         request.body, status, answer)) {
        return fail(404, "NotFound", "the server could not find the requested resource");
      }
      response.status = status;
      response.set_content(answer, "application/json");
      return;
    }
    const std::string name(request.path.substr(kNodesPrefix.size()));
    auto node = nodes_.find(name);
    if (node == nodes_.end()) {
      return fail(404, "NotFound", absl::StrCat("nodes \"", name, "\" not found"));
    }
    if (request.method == "PATCH") {
      if (request.get_header_value("Content-Type") != "application/merge-patch+json") {
        return fail(415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format");
      }
      nlohmann::json patch = nlohmann::json::parse(request.body, nullptr, false);
      if (!patch.is_object()) {
        return fail(400, "BadRequest", "the patch is not a JSON object");
      }
      if (change_before_patches_ > 0) {
        --change_before_patches_;
        node->second["metadata"]["labels"]["other-writer/touched"] = "yes";
        Bump(node->second);
      }
      if (patch.contains("metadata") && patch["metadata"].contains("resourceVersion") &&
          patch["metadata"]["resourceVersion"] != node->second["metadata"]["resourceVersion"]) {
        return fail(409, "Conflict",
                    absl::StrCat("Operation cannot be fulfilled on nodes \"", name,
                                 "\": the object has been modified; please apply your changes "
                                 "to the latest version and try again"));
      }
      node->second.merge_patch(patch);
      Bump(node->second);
      NodeEvent("MODIFIED", node->second);
    }
    response.set_content(node->second.dump(), "application/json");
  };
  server_->Get(".*", handle);
  server_->Patch(".*", handle);
  server_->Post(".*", handle);
  server_->Put(".*", handle);
  port_ = server_->bind_to_any_port("127.0.0.1");
  CN_CHECK(port_ > 0);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // httplib's stop() does nothing until the listener runs: a test that ends at once would
  // otherwise make the destructor wait forever. httplib 0.11 has no "ready" signal to wait on,
  // so poll the flag it sets, with a deadline.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!server_->is_running() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  CN_CHECK(server_->is_running());
}

FakeKubeApi::~FakeKubeApi() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;  // ends open watch streams, whose threads the server joins
  }
  server_->stop();
  thread_.join();
}

std::string FakeKubeApi::url() const { return absl::StrCat("https://localhost:", port_); }

void FakeKubeApi::Bump(nlohmann::json& node) {
  node["metadata"]["resourceVersion"] = std::to_string(++resource_version_);
}

void FakeKubeApi::NodeEvent(const std::string& type, const nlohmann::json& node) {
  node_events_.emplace_back(resource_version_, nlohmann::json{{"type", type}, {"object", node}});
}

bool FakeKubeApi::HandleGeneric(const std::string& method, const std::string& path,
                                const std::string& content_type, const std::string& body,
                                int& status, std::string& answer) {
  auto failure = [&](int code, const std::string& reason, const std::string& message) {
    status = code;
    answer = StatusBody(code, reason, message);
    return true;
  };
  if (method == "POST") {
    nlohmann::json object = nlohmann::json::parse(body, nullptr, false);
    if (!object.is_object() || !object.contains("metadata") ||
        !object["metadata"].contains("name")) {
      return failure(400, "BadRequest", "the object has no metadata.name");
    }
    const std::string at = absl::StrCat(path, "/", object["metadata"]["name"].get<std::string>());
    if (objects_.count(at) == 1) {
      return failure(409, "AlreadyExists", absl::StrCat(at, " already exists"));
    }
    Bump(object);
    objects_[at] = object;
    status = 201;
    answer = object.dump();
    return true;
  }
  auto found = objects_.find(path);
  if (found == objects_.end()) {
    if (method == "GET" || method == "PUT" || method == "PATCH") {
      return failure(404, "NotFound", absl::StrCat(path, " not found"));
    }
    return false;
  }
  nlohmann::json& object = found->second;
  if (method == "PUT") {
    nlohmann::json replacement = nlohmann::json::parse(body, nullptr, false);
    if (!replacement.is_object()) {
      return failure(400, "BadRequest", "the body is not a JSON object");
    }
    if (replacement.contains("metadata") && replacement["metadata"].contains("resourceVersion") &&
        replacement["metadata"]["resourceVersion"] != object["metadata"]["resourceVersion"]) {
      return failure(409, "Conflict",
                     absl::StrCat("Operation cannot be fulfilled on ", path,
                                  ": the object has been modified"));
    }
    object = replacement;
    Bump(object);
  } else if (method == "PATCH") {
    if (content_type != "application/json-patch+json") {
      return failure(415, "UnsupportedMediaType", "only JSON patch here");
    }
    nlohmann::json operations = nlohmann::json::parse(body, nullptr, false);
    try {
      object = object.patch(operations);
    } catch (const nlohmann::json::exception& error) {
      return failure(422, "Invalid", error.what());
    }
    Bump(object);
  }
  status = 200;
  answer = object.dump();
  return true;
}

void FakeKubeApi::PutObject(const std::string& path, nlohmann::json object) {
  absl::MutexLock lock(&mutex_);
  Bump(object);
  objects_[path] = std::move(object);
}

std::optional<nlohmann::json> FakeKubeApi::Object(const std::string& path) const {
  absl::MutexLock lock(&mutex_);
  auto found = objects_.find(path);
  return found == objects_.end() ? std::nullopt : std::optional<nlohmann::json>(found->second);
}

void FakeKubeApi::DeleteObject(const std::string& path) {
  absl::MutexLock lock(&mutex_);
  objects_.erase(path);
}

void FakeKubeApi::PutNodeObject(nlohmann::json node) {
  absl::MutexLock lock(&mutex_);
  const std::string name = node["metadata"]["name"].get<std::string>();
  const bool existed = nodes_.count(name) == 1;
  Bump(node);
  nodes_[name] = node;
  NodeEvent(existed ? "MODIFIED" : "ADDED", node);
}

int FakeKubeApi::OpenWatches() const {
  absl::MutexLock lock(&mutex_);
  return open_watches_;
}

void FakeKubeApi::SetToken(std::string token) {
  absl::MutexLock lock(&mutex_);
  token_ = std::move(token);
}

void FakeKubeApi::FailWith(int status) {
  absl::MutexLock lock(&mutex_);
  fail_status_ = status;
}

void FakeKubeApi::FailNext(int count, int status) {
  absl::MutexLock lock(&mutex_);
  fail_next_count_ = count;
  fail_next_status_ = status;
}

void FakeKubeApi::ChangeBeforeNextPatches(int count) {
  absl::MutexLock lock(&mutex_);
  change_before_patches_ = count;
}

void FakeKubeApi::PutNode(const std::string& name, const std::map<std::string, std::string>& labels,
                          const std::map<std::string, std::string>& annotations) {
  absl::MutexLock lock(&mutex_);
  nlohmann::json node = {{"kind", "Node"},
                         {"apiVersion", "v1"},
                         {"metadata", {{"name", name}, {"uid", absl::StrCat("uid-", name)}}},
                         {"status", {{"capacity", {{"cpu", "2"}}}}}};
  node["metadata"]["labels"] = labels;
  if (!annotations.empty()) {
    node["metadata"]["annotations"] = annotations;
  }
  Bump(node);
  NodeEvent(nodes_.count(name) == 1 ? "MODIFIED" : "ADDED", node);
  nodes_[name] = std::move(node);
}

void FakeKubeApi::DeleteNode(const std::string& name) {
  absl::MutexLock lock(&mutex_);
  auto node = nodes_.find(name);
  if (node != nodes_.end()) {
    ++resource_version_;
    NodeEvent("DELETED", node->second);
    nodes_.erase(node);
  }
}

void FakeKubeApi::SetLabel(const std::string& name, const std::string& key,
                           const std::string& value) {
  absl::MutexLock lock(&mutex_);
  CN_CHECK(nodes_.count(name) == 1);
  nodes_[name]["metadata"]["labels"][key] = value;
  Bump(nodes_[name]);
  NodeEvent("MODIFIED", nodes_[name]);
}

void FakeKubeApi::RemoveLabel(const std::string& name, const std::string& key) {
  absl::MutexLock lock(&mutex_);
  CN_CHECK(nodes_.count(name) == 1);
  nodes_[name]["metadata"]["labels"].erase(key);
  Bump(nodes_[name]);
  NodeEvent("MODIFIED", nodes_[name]);
}

std::map<std::string, std::string> FakeKubeApi::Labels(const std::string& name) const {
  absl::MutexLock lock(&mutex_);
  auto node = nodes_.find(name);
  return node == nodes_.end() ? std::map<std::string, std::string>{}
                              : StringMap(node->second, "labels");
}

std::map<std::string, std::string> FakeKubeApi::Annotations(const std::string& name) const {
  absl::MutexLock lock(&mutex_);
  auto node = nodes_.find(name);
  return node == nodes_.end() ? std::map<std::string, std::string>{}
                              : StringMap(node->second, "annotations");
}

bool FakeKubeApi::HasNode(const std::string& name) const {
  absl::MutexLock lock(&mutex_);
  return nodes_.count(name) == 1;
}

std::vector<RecordedRequest> FakeKubeApi::Requests() const {
  absl::MutexLock lock(&mutex_);
  return requests_;
}

int FakeKubeApi::CountRequests(const std::string& method) const {
  absl::MutexLock lock(&mutex_);
  int count = 0;
  for (const RecordedRequest& request : requests_) {
    count += request.method == method ? 1 : 0;
  }
  return count;
}

void FakeKubeApi::ClearRequests() {
  absl::MutexLock lock(&mutex_);
  requests_.clear();
}

bool FakeKubeApi::WaitForLabels(
    const std::string& name,
    const std::function<bool(const std::map<std::string, std::string>&)>& condition,
    absl::Duration timeout) const {
  absl::MutexLock lock(&mutex_);
  auto holds = [&] {
    auto node = nodes_.find(name);
    return node != nodes_.end() && condition(StringMap(node->second, "labels"));
  };
  return mutex_.AwaitWithTimeout(absl::Condition(&holds), timeout);
}

bool FakeKubeApi::WaitForRequests(const std::string& method, int count,
                                  absl::Duration timeout) const {
  absl::MutexLock lock(&mutex_);
  auto enough = [&] {
    int seen = 0;
    for (const RecordedRequest& request : requests_) {
      seen += request.method == method ? 1 : 0;
    }
    return seen >= count;
  };
  return mutex_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

}  // namespace cn::testing
