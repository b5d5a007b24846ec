#!/usr/bin/env python3
"""deploy/remove-labels driven through a real kubectl against a Kubernetes API stand-in.

The stand-in (plain HTTP on loopback, Python's http.server) serves what kubectl needs for
`get nodes`, `get daemonsets --all-namespaces` and `patch node --type merge`: discovery, the
lists, GET and merge PATCH of a Node with RFC 7386 semantics. It records every PATCH so the
tests assert the exact changes and that a second run sends none.

kubectl: $CN_KUBECTL, else the 1.20 kubectl that tests/e2e/cluster caches under
/var/cache/confidential-nodes, else `kubectl` on PATH; without one the test is skipped (exit
77), since a fake kubectl would only test our idea of kubectl.
"""

import copy
import glob
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(REPO, "deploy", "remove-labels")
ANNOTATION = "sgx.confidential-nodes.io/owned-labels"


def find_kubectl():
    if os.environ.get("CN_KUBECTL"):
        return os.environ["CN_KUBECTL"]
    cached = sorted(glob.glob("/var/cache/confidential-nodes/kubernetes/*/bin/kubectl"))
    if cached:
        return cached[-1]
    return shutil.which("kubectl")


def merge(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


class FakeApi:
    def __init__(self):
        self.nodes = {}
        self.daemonsets = []
        self.patches = []  # (node name, patch body)
        self.fail_patch = set()  # node names whose PATCH is refused with 500
        self.version = 1
        self.lock = threading.Lock()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                with api.lock:
                    code, body = api.get(urllib.parse.urlparse(self.path).path)
                self.reply(code, body)

            def do_PATCH(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with api.lock:
                    code, answer = api.patch(
                        urllib.parse.urlparse(self.path).path,
                        self.headers.get("Content-Type", ""),
                        body,
                    )
                self.reply(code, answer)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def put_node(self, name, labels=None, annotations=None):
        self.version += 1
        self.nodes[name] = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "resourceVersion": str(self.version),
                "labels": dict(labels or {}),
                "annotations": dict(annotations or {}),
            },
        }

    def labels(self, name):
        return self.nodes[name]["metadata"].get("labels", {})

    def annotations(self, name):
        return self.nodes[name]["metadata"].get("annotations", {})

    @staticmethod
    def status(code, message):
        return code, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                      "message": message, "code": code}

    def get(self, path):
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"],
                         "serverAddressByClientCIDRs": [
                             {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
        if path == "/apis":
            apps = {"groupVersion": "apps/v1", "version": "v1"}
            return 200, {"kind": "APIGroupList", "apiVersion": "v1",
                         "groups": [{"name": "apps", "versions": [apps],
                                     "preferredVersion": apps}]}
        if path == "/api/v1":
            return 200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": "nodes", "singularName": "", "namespaced": False, "kind": "Node",
                 "verbs": ["get", "list", "patch"], "shortNames": ["no"]}]}
        if path == "/apis/apps/v1":
            return 200, {"kind": "APIResourceList", "groupVersion": "apps/v1", "resources": [
                {"name": "daemonsets", "singularName": "", "namespaced": True,
                 "kind": "DaemonSet", "verbs": ["get", "list"], "shortNames": ["ds"]}]}
        if path == "/api/v1/nodes":
            return 200, {"kind": "NodeList", "apiVersion": "v1",
                         "metadata": {"resourceVersion": str(self.version)},
                         "items": [self.nodes[name] for name in sorted(self.nodes)]}
        if path.startswith("/api/v1/nodes/"):
            name = path[len("/api/v1/nodes/"):]
            if name not in self.nodes:
                return self.status(404, 'nodes "%s" not found' % name)
            return 200, self.nodes[name]
        if path == "/apis/apps/v1/daemonsets":
            return 200, {"kind": "DaemonSetList", "apiVersion": "apps/v1",
                         "metadata": {"resourceVersion": str(self.version)},
                         "items": self.daemonsets}
        return self.status(404, "the server could not find the requested resource")

    def patch(self, path, content_type, body):
        if not path.startswith("/api/v1/nodes/"):
            return self.status(404, "not found")
        name = path[len("/api/v1/nodes/"):]
        if name not in self.nodes:
            return self.status(404, 'nodes "%s" not found' % name)
        if content_type.split(";")[0] != "application/merge-patch+json":
            return self.status(415, "unsupported patch type " + content_type)
        if name in self.fail_patch:
            return self.status(500, "etcd is on fire")
        patch = json.loads(body)
        self.patches.append((name, patch))
        self.version += 1
        node = merge(self.nodes[name], patch)
        node["metadata"]["resourceVersion"] = str(self.version)
        self.nodes[name] = node
        return 200, node


AGENT_LABELS = {
    "sgx.confidential-nodes.io/enabled": "true",
    "sgx.confidential-nodes.io/flc": "true",
    "sgx.confidential-nodes.io/sgx2": "true",
    "sgx.confidential-nodes.io/aesm": "false",
    "sgx.confidential-nodes.io/driver": "in-kernel",
    "sgx.confidential-nodes.io/epc-mib": "64",
}
FOREIGN_LABELS = {
    "kubernetes.io/hostname": "n1",
    "kubernetes.io/os": "linux",
    "node-role.kubernetes.io/worker": "",
    "example.com/sgx.confidential-nodes.io": "not ours: another prefix",
}


class RemoveLabelsTest(unittest.TestCase):
    kubectl = None

    def setUp(self):
        self.api = FakeApi()
        self.dir = tempfile.mkdtemp(prefix="cn-remove-labels-")
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        with open(self.kubeconfig, "w") as out:
            out.write(
                "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
                "clusters:\n- name: fake\n  cluster:\n    server: %s\n"
                "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n"
                "users:\n- name: fake\n  user: {}\n" % self.api.url())

    def tearDown(self):
        self.api.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_script(self, *args):
        env = dict(os.environ, KUBECTL=self.kubectl, HOME=self.dir)
        env.pop("KUBECONFIG", None)
        return subprocess.run(
            [SCRIPT, *args, "--", "--kubeconfig", self.kubeconfig,
             "--cache-dir", os.path.join(self.dir, "cache"), "--request-timeout", "10s"],
            env=env, capture_output=True, text=True, timeout=60)

    def test_removes_exactly_what_the_agent_owns_and_a_second_run_sends_nothing(self):
        # n1: the agent set both compatibility labels; n2: NFD set cpu-sgx.enabled, the agent
        # only the Intel one; n3: an ordinary node (enabled=false); n4: never labelled.
        self.api.put_node(
            "n1", {**FOREIGN_LABELS, **AGENT_LABELS,
                   "intel.feature.node.kubernetes.io/sgx": "true",
                   "feature.node.kubernetes.io/cpu-sgx.enabled": "true"},
            {ANNOTATION: "feature.node.kubernetes.io/cpu-sgx.enabled,"
                         "intel.feature.node.kubernetes.io/sgx",
             "node.alpha.kubernetes.io/ttl": "0"})
        self.api.put_node(
            "n2", {**FOREIGN_LABELS, **AGENT_LABELS,
                   "intel.feature.node.kubernetes.io/sgx": "true",
                   "feature.node.kubernetes.io/cpu-sgx.enabled": "true"},
            {ANNOTATION: "intel.feature.node.kubernetes.io/sgx"})
        self.api.put_node("n3", {**FOREIGN_LABELS, "sgx.confidential-nodes.io/enabled": "false"})
        self.api.put_node("n4", FOREIGN_LABELS, {"node.alpha.kubernetes.io/ttl": "0"})

        result = self.run_script()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        for name in ("n1", "n2", "n3", "n4"):
            self.assertEqual(
                {k: v for k, v in self.api.labels(name).items()
                 if k.startswith("sgx.confidential-nodes.io/")}, {}, name)
        self.assertEqual(self.api.labels("n1"), FOREIGN_LABELS)
        self.assertEqual(self.api.annotations("n1"), {"node.alpha.kubernetes.io/ttl": "0"})
        # NFD's label on n2 was never the agent's: it stays.
        self.assertEqual(self.api.labels("n2"),
                         {**FOREIGN_LABELS, "feature.node.kubernetes.io/cpu-sgx.enabled": "true"})
        self.assertEqual(self.api.annotations("n2"), {})
        self.assertEqual(self.api.labels("n3"), FOREIGN_LABELS)
        self.assertEqual(self.api.labels("n4"), FOREIGN_LABELS)
        # One minimal merge patch per node that had something; none for n4.
        patched = dict(self.api.patches)
        self.assertEqual(sorted(patched), ["n1", "n2", "n3"])
        self.assertEqual(patched["n3"],
                         {"metadata": {"labels": {"sgx.confidential-nodes.io/enabled": None}}})
        self.assertEqual(set(patched["n1"]["metadata"]["labels"]),
                         set(AGENT_LABELS) | {"intel.feature.node.kubernetes.io/sgx",
                                              "feature.node.kubernetes.io/cpu-sgx.enabled"})
        self.assertEqual(patched["n1"]["metadata"]["annotations"], {ANNOTATION: None})
        self.assertIn("node n4: nothing of the agent's", result.stdout)
        self.assertIn("remove-labels: 3 node(s) changed", result.stdout)

        again = self.run_script()
        self.assertEqual(again.returncode, 0, again.stdout + again.stderr)
        self.assertEqual(len(self.api.patches), 3)
        self.assertIn("remove-labels: 0 node(s) changed", again.stdout)

    def test_refuses_while_the_agent_runs_unless_forced(self):
        self.api.put_node("n1", AGENT_LABELS)
        self.api.daemonsets = [{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {
            "name": "sgx-node-agent", "namespace": "confidential-nodes",
            "labels": {"app.kubernetes.io/name": "sgx-node-agent"}}}]
        refused = self.run_script()
        self.assertEqual(refused.returncode, 1)
        self.assertIn("confidential-nodes/sgx-node-agent", refused.stderr)
        self.assertIn("delete it first", refused.stderr)
        self.assertEqual(self.api.patches, [])
        forced = self.run_script("--force")
        self.assertEqual(forced.returncode, 0, forced.stdout + forced.stderr)
        self.assertEqual(self.api.labels("n1"), {})

    def test_dry_run_changes_nothing_and_says_what_would_go(self):
        self.api.put_node("n1", {**AGENT_LABELS, "intel.feature.node.kubernetes.io/sgx": "true"},
                          {ANNOTATION: "intel.feature.node.kubernetes.io/sgx"})
        result = self.run_script("--dry-run")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(self.api.patches, [])
        self.assertIn("node n1: would remove", result.stdout)
        self.assertIn("intel.feature.node.kubernetes.io/sgx", result.stdout)
        self.assertIn("annotation " + ANNOTATION, result.stdout)

    def test_a_tampered_annotation_never_removes_a_foreign_label(self):
        self.api.put_node("n1", {**FOREIGN_LABELS, "sgx.confidential-nodes.io/enabled": "true"},
                          {ANNOTATION: "kubernetes.io/hostname, kubernetes.io/os"})
        result = self.run_script()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(self.api.labels("n1"), FOREIGN_LABELS)
        self.assertEqual(self.api.annotations("n1"), {})
        self.assertIn("lists 'kubernetes.io/hostname', which the agent never sets: left alone",
                      result.stderr)

    def test_a_refused_patch_is_reported_the_others_still_done_and_exit_is_one(self):
        self.api.put_node("n1", AGENT_LABELS)
        self.api.put_node("n2", AGENT_LABELS)
        self.api.fail_patch.add("n1")
        result = self.run_script()
        self.assertEqual(result.returncode, 1)
        self.assertIn("node n1: patch failed", result.stderr)
        self.assertIn("etcd is on fire", result.stderr)
        self.assertEqual(self.api.labels("n2"), {})
        self.assertEqual(self.api.labels("n1"), AGENT_LABELS)

    def test_an_unreachable_api_server_is_exit_one(self):
        self.api.close()
        result = self.run_script()
        self.assertEqual(result.returncode, 1)
        self.assertIn("cannot list", result.stderr)


if __name__ == "__main__":
    RemoveLabelsTest.kubectl = find_kubectl()
    if not RemoveLabelsTest.kubectl:
        print("SKIPPED: no kubectl (set CN_KUBECTL, or run tests/e2e/cluster once to cache it)")
        sys.exit(77)
    print("kubectl:", RemoveLabelsTest.kubectl)
    unittest.main(verbosity=2)
