#!/usr/bin/env python3
"""The kustomizations build with kubectl's kustomize (1.20: v2.0.3) and say what they promise;
the samples ask only for the plugin's resource names and run on their images' entrypoints.

kubectl as in remove_labels_test.py; skipped (exit 77) without one.
"""

import glob
import os
import re
import subprocess
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from remove_labels_test import find_kubectl  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DEPLOY = os.path.join(REPO, "deploy")
OUR_RESOURCES = {"kubernetes.azure.com/sgx_epc_mem_in_MiB", "sgx.intel.com/enclave",
                 "sgx.intel.com/provision"}
# Samples written for the AKS add-on that ask for sgx.intel.com/epc and rely on sgx-webhook.
NEEDS_WEBHOOK = {"aks-quickstart-job.yaml": {"sgx.intel.com/epc"}}
KUBECTL = None


def read(path):
    with open(path) as source:
        return source.read()


def build(directory):
    result = subprocess.run([KUBECTL, "kustomize", directory], capture_output=True, text=True,
                            timeout=60)
    if result.returncode != 0:
        raise AssertionError("kubectl kustomize %s: %s" % (directory, result.stderr))
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind_and_name(docs):
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}


def pod_spec(doc):
    if doc["kind"] == "Pod":
        return doc["spec"]
    if doc["kind"] in ("Deployment", "DaemonSet", "Job", "StatefulSet"):
        return doc["spec"]["template"]["spec"]
    return None


class ManifestsTest(unittest.TestCase):
    def test_quote_helper_asks_our_plugin_for_epc_and_shares_the_host_aesm_directory(self):
        docs = by_kind_and_name(build(os.path.join(DEPLOY, "components", "quote-helper")))
        helper = docs[("DaemonSet", "sgx-quote-helper")]
        self.assertEqual(helper["metadata"]["namespace"], "confidential-nodes")
        spec = helper["spec"]["template"]["spec"]
        self.assertEqual(spec["nodeSelector"], {"sgx.confidential-nodes.io/enabled": "true"})
        container = spec["containers"][0]
        self.assertEqual(container["image"], "intel/sgx-aesmd-demo:0.32.1")
        self.assertNotIn("command", container)
        limits = container["resources"]["limits"]
        self.assertEqual(str(limits["kubernetes.azure.com/sgx_epc_mem_in_MiB"]), "1")
        self.assertEqual(str(limits["sgx.intel.com/provision"]), "1")
        self.assertFalse(container["securityContext"]["privileged"])
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
        self.assertEqual(volumes[mounts["/var/run/aesmd"]]["hostPath"],
                         {"path": "/var/run/aesmd", "type": "DirectoryOrCreate"})
        # The only host path.
        self.assertEqual([v["name"] for v in spec["volumes"] if "hostPath" in v],
                         [mounts["/var/run/aesmd"]])

    def test_an_overlay_of_default_and_quote_helper_builds_with_bases(self):
        with tempfile.TemporaryDirectory(dir=os.path.join(DEPLOY, "overlays")) as overlay:
            with open(os.path.join(overlay, "kustomization.yaml"), "w") as out:
                out.write("bases:\n- ../../default\n- ../../components/quote-helper\n"
                          "images:\n- name: intel/sgx-aesmd-demo\n  newName: cn.local/aesm\n"
                          "  newTag: e2e\n")
            docs = by_kind_and_name(build(overlay))
        self.assertIn(("DaemonSet", "sgx-device-plugin"), docs)
        self.assertIn(("DaemonSet", "sgx-node-agent"), docs)
        helper = docs[("DaemonSet", "sgx-quote-helper")]
        self.assertEqual(helper["spec"]["template"]["spec"]["containers"][0]["image"],
                         "cn.local/aesm:e2e")

    def test_nfd_places_the_plugin_by_nfd_and_the_agent_writes_the_feature_file(self):
        docs = by_kind_and_name(build(os.path.join(DEPLOY, "components", "nfd")))
        plugin = docs[("DaemonSet", "sgx-device-plugin")]["spec"]["template"]["spec"]
        self.assertEqual(plugin["nodeSelector"],
                         {"feature.node.kubernetes.io/cpu-sgx.enabled": "true"})
        agent = docs[("DaemonSet", "sgx-node-agent")]["spec"]["template"]["spec"]
        container = agent["containers"][0]
        self.assertIn("--nfd-features-dir=/etc/kubernetes/node-feature-discovery/features.d",
                      container["args"])
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        features = mounts["/etc/kubernetes/node-feature-discovery/features.d"]
        self.assertFalse(features.get("readOnly", False))
        volume = [v for v in agent["volumes"] if v["name"] == features["name"]][0]
        self.assertEqual(volume["hostPath"]["path"],
                         "/etc/kubernetes/node-feature-discovery/features.d")
        self.assertEqual(container["securityContext"]["capabilities"]["drop"], ["ALL"])
        self.assertFalse(container["securityContext"]["allowPrivilegeEscalation"])
        # No API access in NFD mode.
        self.assertFalse(agent["automountServiceAccountToken"])
        self.assertNotIn(("ClusterRole", "confidential-nodes-sgx-node-agent"), docs)
        self.assertNotIn(("ClusterRoleBinding", "confidential-nodes-sgx-node-agent"), docs)
        self.assertFalse(docs[("ServiceAccount", "sgx-node-agent")]["automountServiceAccountToken"])

    def test_samples_ask_only_for_our_resources_and_use_their_images_entrypoints(self):
        readme = read(os.path.join(DEPLOY, "samples", "README.md"))
        samples = sorted(glob.glob(os.path.join(DEPLOY, "samples", "*.yaml")))
        self.assertGreaterEqual(len(samples), 5)
        for path in samples:
            name = os.path.basename(path)
            self.assertIn("`%s`" % name, readme, "README.md lists every sample")
            text = read(path)
            self.assertRegex(text, r"Programming model: ", name)
            docs = [doc for doc in yaml.safe_load_all(text) if doc]
            asked = set()
            for doc in docs:
                spec = pod_spec(doc)
                if spec is None:
                    continue
                for container in spec.get("initContainers", []) + spec["containers"]:
                    self.assertIn("`%s`" % container["image"], readme,
                                  "%s: README.md names image %s" % (name, container["image"]))
                    command = container.get("command")
                    self.assertTrue(command is None or command[:2] == ["/bin/sh", "-c"],
                                    "%s: a command a stand-in image may lack" % name)
                    for kind in ("limits", "requests"):
                        for resource in container.get("resources", {}).get(kind, {}):
                            if "/" in resource:
                                asked.add(resource)
                    # Nothing mounted or set by hand: the plugin gives devices, AESM and env.
                    for mount in container.get("volumeMounts", []):
                        self.assertNotRegex(mount["mountPath"], r"^/dev|aesmd", name)
                    self.assertNotIn("SGX_AESM_ADDR",
                                     [e["name"] for e in container.get("env", [])], name)
            self.assertTrue(asked, "%s asks for an SGX resource" % name)
            self.assertLessEqual(asked, OUR_RESOURCES | NEEDS_WEBHOOK.get(name, set()), name)
            if name in NEEDS_WEBHOOK:
                self.assertRegex(text, r"webhook", name)

    def test_the_hpa_sample_scales_its_deployment_on_cpu_with_a_cpu_request(self):
        docs = by_kind_and_name(
            yaml.safe_load_all(read(os.path.join(DEPLOY, "samples", "hpa-enclave-web.yaml"))))
        hpa = docs[("HorizontalPodAutoscaler", "sgx-enclave-web")]
        self.assertEqual(hpa["apiVersion"], "autoscaling/v1")
        self.assertEqual(hpa["spec"]["scaleTargetRef"]["name"], "sgx-enclave-web")
        self.assertGreater(hpa["spec"]["targetCPUUtilizationPercentage"], 0)
        container = docs[("Deployment", "sgx-enclave-web")]["spec"]["template"]["spec"][
            "containers"][0]
        self.assertIn("cpu", container["resources"]["requests"])


if __name__ == "__main__":
    KUBECTL = find_kubectl()
    if not KUBECTL:
        print("SKIPPED: no kubectl (set CN_KUBECTL, or run tests/e2e/cluster once to cache it)")
        sys.exit(77)
    print("kubectl:", KUBECTL)
    unittest.main(verbosity=2)
