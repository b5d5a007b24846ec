#!/usr/bin/env python3
"""Turns the YAML inputs of tests/e2e/match-conditions-apiserver into API request bodies.

    apiserver-objects.py webhooks WEBHOOKS.yaml BASE_URL CA_FILE OUT_DIR
    apiserver-objects.py pods PODS.yaml OUT_DIR

`webhooks`: every MutatingWebhookConfiguration / ValidatingWebhookConfiguration of the file,
each webhook pointed at BASE_URL/mutate or BASE_URL/validate (CA bundle from CA_FILE) for Pod
CREATE, everything else of it (name, failurePolicy, matchConditions, selectors) kept as written.
`pods`: every Pod, and OUT_DIR/expectations with "namespace/name mutating validating" per pod
(call, skip or - from its match-conditions.test/ annotations). Files are named NN-kind.json in
input order; stdout lists "collection-path file" per object.
"""

import base64
import json
import os
import sys

import yaml

EXPECT = "match-conditions.test/"


def fail(message):
    sys.stderr.write("apiserver-objects: %s\n" % message)
    sys.exit(2)


def documents(path):
    try:
        with open(path) as stream:
            return [d for d in yaml.safe_load_all(stream) if d]
    except (OSError, yaml.YAMLError) as error:
        fail("%s: %s" % (path, error))


def write(out_dir, index, kind, body, collection):
    name = os.path.join(out_dir, "%02d-%s.json" % (index, kind.lower()))
    with open(name, "w") as stream:
        json.dump(body, stream)
    print(collection, name)


def webhooks(source, base_url, ca_file, out_dir):
    with open(ca_file, "rb") as stream:
        ca_bundle = base64.b64encode(stream.read()).decode()
    paths = {"MutatingWebhookConfiguration": ("mutate", "mutatingwebhookconfigurations"),
             "ValidatingWebhookConfiguration": ("validate", "validatingwebhookconfigurations")}
    count = 0
    for index, document in enumerate(documents(source)):
        kind = document.get("kind")
        if kind not in paths:
            continue
        endpoint, collection = paths[kind]
        for hook in document.get("webhooks") or []:
            hook["clientConfig"] = {"url": "%s/%s" % (base_url, endpoint), "caBundle": ca_bundle}
            hook["rules"] = [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                              "resources": ["pods"]}]
            hook["sideEffects"] = "None"
            hook["admissionReviewVersions"] = ["v1", "v1beta1"]
            hook["timeoutSeconds"] = 5
            count += 1
        document["apiVersion"] = "admissionregistration.k8s.io/v1"
        write(out_dir, index, kind, document,
              "/apis/admissionregistration.k8s.io/v1/" + collection)
    if count == 0:
        fail("%s: no webhooks in a MutatingWebhookConfiguration or ValidatingWebhookConfiguration" % source)


def pods(source, out_dir):
    lines = []
    for index, pod in enumerate(documents(source)):
        metadata = pod.get("metadata") or {}
        if pod.get("kind") != "Pod" or not metadata.get("name"):
            fail("%s: document %d is not a Pod with a name" % (source, index + 1))
        namespace = metadata.setdefault("namespace", "default")
        annotations = metadata.get("annotations") or {}
        lines.append("%s/%s %s %s\n" % (namespace, metadata["name"],
                                         annotations.get(EXPECT + "mutating", "-"),
                                         annotations.get(EXPECT + "validating", "-")))
        write(out_dir, index, "pod", pod, "/api/v1/namespaces/%s/pods" % namespace)
    with open(os.path.join(out_dir, "expectations"), "w") as stream:
        stream.writelines(lines)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "webhooks":
        webhooks(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "pods":
        pods(*sys.argv[2:])
    else:
        fail("usage: apiserver-objects.py webhooks WEBHOOKS.yaml BASE_URL CA_FILE OUT_DIR | "
             "pods PODS.yaml OUT_DIR")
