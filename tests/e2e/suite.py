#!/usr/bin/env python3
"""End-to-end tests of the SGX device plugin on the harness's single Kubernetes node.

Runs against a cluster brought up by tests/e2e/cluster with the plugin's DaemonSet applied
(tests/e2e/run-e2e does all of that). Every assertion is on what the API server or a container
reports; every wait is a bounded poll that returns as soon as its condition holds. Observed
values (capacity numbers, device listings inside pods, re-registration time) are printed as
`observed:` lines so they can be quoted. The last line is `e2e: N passed, N failed`; the exit
status is non-zero when any test failed.

Environment (set by `cluster env` and run-e2e):
  KUBECONFIG, PATH        kubectl 1.20 of the harness
  CN_E2E_STATE            the harness's state directory (kubelet log for re-registration time)
  CN_E2E_NODE             the node name (127.0.0.1)
  CN_E2E_BUSYBOX_IMAGE    the shell image for test pods
  CN_E2E_PLUGIN_IMAGE     the plugin image the DaemonSet runs (to find the DaemonSet)
  CN_E2E_CPUID_FILE       the CPUID file the simulated host uses (to derive the EPC size)
"""

import datetime
import json
import os
import re
import subprocess
import sys
import time
import traceback
import urllib.request

EPC = "kubernetes.azure.com/sgx_epc_mem_in_MiB"
ENCLAVE = "sgx.intel.com/enclave"
PROVISION = "sgx.intel.com/provision"
RESOURCES = (EPC, ENCLAVE, PROVISION)
DEFAULT_SLOT_LIMIT = 110  # the plugin's default --enclave-limit / --provision-limit

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = os.environ.get("CN_E2E_NODE", "127.0.0.1")
STATE = os.environ.get("CN_E2E_STATE", "/var/lib/confidential-nodes-e2e")
BUSYBOX = os.environ.get("CN_E2E_BUSYBOX_IMAGE", "cn.local/busybox:e2e")
PLUGIN_IMAGE = os.environ.get("CN_E2E_PLUGIN_IMAGE", "")
CPUID_FILE = os.environ.get("CN_E2E_CPUID_FILE", "")
TEST_NAMESPACE = "default"
SGX_PATHS = ("/dev/sgx_enclave", "/dev/sgx/enclave", "/dev/sgx_provision", "/dev/sgx/provision")
AESM_SOCKET = "/var/run/aesmd/aesm.socket"


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def observed(name, value):
    print(f"  observed: {name}: {value}", flush=True)


# ---------------------------------------------------------------------------------------------
# kubectl and bounded waits.


def kubectl(*arguments, stdin=None, check_status=True, timeout=120):
    result = subprocess.run(["kubectl", *arguments], input=stdin, capture_output=True, text=True,
                            timeout=timeout)
    if check_status and result.returncode != 0:
        raise Failure(f"kubectl {' '.join(arguments)} failed ({result.returncode}): "
                      f"{result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def kubectl_json(*arguments):
    return json.loads(kubectl(*arguments, "-o", "json"))


def wait_for(description, timeout, probe, interval=0.2, state=None):
    """Polls probe() until it returns a truthy value, which is returned; fails at the deadline,
    saying what `state()` (when given) or the last probe showed then."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = probe()
            if value:
                return value
            last = value
        except Failure as error:
            last = str(error)
        if time.monotonic() >= deadline:
            if state is not None:
                try:
                    last = state()
                except Failure as error:
                    last = str(error)
            raise Failure(f"timed out after {timeout}s waiting for {description} (last: {last})")
        time.sleep(interval)


def allocatable_now():
    return f"allocatable {node_resources('allocatable')}"


def node_resources(field):
    """{resource: int or None} of the node's status.capacity or status.allocatable."""
    values = kubectl_json("get", "node", NODE)["status"].get(field, {})
    return {name: (int(values[name]) if name in values else None) for name in RESOURCES}


def pod(name, namespace=TEST_NAMESPACE):
    return kubectl_json("get", "pod", name, "-n", namespace)


def create_test_pod(name, resources, command="sleep 3600", namespace=TEST_NAMESPACE,
                    container="main"):
    quantities = {name_: str(count) for name_, count in resources.items()}
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"cn-e2e": "test"}},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": container,
                "image": BUSYBOX,
                "imagePullPolicy": "Never",
                "command": ["/bin/sh", "-c", command],
                "resources": {"requests": quantities, "limits": quantities},
            }],
        },
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(manifest))


def wait_pod_running(name, timeout=90, namespace=TEST_NAMESPACE):
    def running():
        status = pod(name, namespace)["status"]
        if status.get("phase") in ("Failed", "Succeeded"):
            raise Failure(f"pod {name} ended with phase {status['phase']}: {status}")
        ready = [c for c in status.get("conditions", []) if c["type"] == "Ready"]
        return status.get("phase") == "Running" and ready and ready[0]["status"] == "True"
    wait_for(f"pod {name} to run", timeout, running)


def delete_pod(name, namespace=TEST_NAMESPACE):
    kubectl("delete", "pod", name, "-n", namespace, "--ignore-not-found", "--wait=true",
            "--timeout=90s", timeout=120)


def exec_in(name, script, namespace=TEST_NAMESPACE):
    return kubectl("exec", name, "-n", namespace, "--", "/bin/sh", "-c", script)


DEVICE_LISTING = "; ".join(
    f'if [ -c {path} ]; then echo "{path} char $(stat -c %t:%T {path}) $(stat -c %A {path})"; '
    f'elif [ -e {path} ]; then echo "{path} not-a-char-device"; else echo "{path} absent"; fi'
    for path in SGX_PATHS) + f'; if [ -S {AESM_SOCKET} ]; then echo "{AESM_SOCKET} socket"; ' \
    f'else echo "{AESM_SOCKET} absent"; fi; echo "SGX_AESM_ADDR=${{SGX_AESM_ADDR-unset}}"'


def container_view(name):
    """What the pod's container sees: {path: 'char MAJ:MIN PERMS' | 'absent' | ...}, plus env."""
    view = {}
    for line in exec_in(name, DEVICE_LISTING).splitlines():
        if line.startswith("SGX_AESM_ADDR="):
            view["SGX_AESM_ADDR"] = line.split("=", 1)[1]
        elif line.strip():
            path, rest = line.split(" ", 1)
            device = re.match(r"^char ([0-9a-f]+):([0-9a-f]+)( .*)$", rest)
            if device:  # stat prints major:minor in hexadecimal
                rest = f"char {int(device.group(1), 16)}:{int(device.group(2), 16)}{device.group(3)}"
            view[path] = rest
    return view


def host_device(path):
    """'char MAJOR:MINOR' of a host device node, or None."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return f"char {os.major(info.st_rdev)}:{os.minor(info.st_rdev)}"


# ---------------------------------------------------------------------------------------------
# What the simulated host implies.


def expected_epc_mib():
    """Sum of the EPC sections (CPUID leaf 0x12, sub-leaves >= 2, type 1) in the CPUID file."""
    check(CPUID_FILE and os.path.isfile(CPUID_FILE), f"CN_E2E_CPUID_FILE {CPUID_FILE!r} is not a file")
    total = 0
    with open(CPUID_FILE) as handle:
        for line in handle:
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            leaf, subleaf, eax, ebx, ecx, edx = (int(field, 16) for field in fields)
            if leaf == 0x12 and subleaf >= 2 and eax & 0xF == 1:
                total += (ecx & 0xFFFFF000) | ((edx & 0xFFFFF) << 32)
    return total // (1024 * 1024)


def plugin_daemonset():
    """(namespace, name, container) of the DaemonSet that runs the plugin image."""
    for item in kubectl_json("get", "daemonsets", "--all-namespaces")["items"]:
        for container in item["spec"]["template"]["spec"]["containers"]:
            if container["image"] == PLUGIN_IMAGE:
                return item["metadata"]["namespace"], item["metadata"]["name"], container
    raise Failure(f"no DaemonSet runs image {PLUGIN_IMAGE!r}")


def flag_value(container, flag, default):
    arguments = container.get("command", []) + container.get("args", [])
    for index, argument in enumerate(arguments):
        if argument == flag and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith(flag + "="):
            return argument.split("=", 1)[1]
    return default


def expected_counts():
    _, _, container = plugin_daemonset()
    return {
        EPC: expected_epc_mib(),
        ENCLAVE: int(flag_value(container, "--enclave-limit", DEFAULT_SLOT_LIMIT)),
        PROVISION: int(flag_value(container, "--provision-limit", DEFAULT_SLOT_LIMIT)),
    }


def plugin_pods():
    namespace, name, _ = plugin_daemonset()
    selector = kubectl_json("get", "daemonset", name, "-n", namespace)["spec"]["selector"]
    labels = ",".join(f"{key}={value}" for key, value in selector.get("matchLabels", {}).items())
    items = kubectl_json("get", "pods", "-n", namespace, "-l", labels)["items"]
    return namespace, [item for item in items if not item["metadata"].get("deletionTimestamp")]


def ready_plugin_pod():
    namespace, pods = plugin_pods()
    for item in pods:
        conditions = {c["type"]: c["status"] for c in item["status"].get("conditions", [])}
        if item["status"].get("phase") == "Running" and conditions.get("Ready") == "True":
            return namespace, item
    return None


def allocatable_is(expected):
    return node_resources("allocatable") == expected


def plugin_metrics():
    """The plugin's /metrics text, fetched from the Ready plugin pod's own address (the host
    reaches pods over the harness's bridge, as a Prometheus in the cluster would)."""
    found = ready_plugin_pod()
    if not found:
        raise Failure("no Ready plugin pod to scrape")
    address = found[1]["status"].get("podIP")
    with urllib.request.urlopen(f"http://{address}:9876/metrics", timeout=5) as answer:
        return answer.read().decode()


def metric_lines(text, prefixes):
    return [line for line in text.splitlines() if line.startswith(prefixes)]


# ---------------------------------------------------------------------------------------------
# The tests, in order. Later tests rely on the sample pod of test 3 to show that running pods
# keep their devices across plugin and kubelet restarts.

SAMPLE_POD = "sgx-sample"
TESTS = []


def test(function):
    TESTS.append(function)
    return function


@test
def smoke_pod_runs_and_logs():
    create_test_pod("smoke", {}, command="echo smoke-ok")
    wait_for("pod smoke to succeed", 90, lambda: pod("smoke")["status"].get("phase") == "Succeeded")
    output = kubectl("logs", "smoke", "-n", TEST_NAMESPACE)
    check(output.strip() == "smoke-ok", f"smoke pod printed {output!r}")
    delete_pod("smoke")


@test
def plugin_pod_ready():
    namespace, item = wait_for("a Ready plugin pod", 120, ready_plugin_pod)
    observed("plugin pod", f"{namespace}/{item['metadata']['name']}")
    # Ready means the kubelet's readiness probe reached /readyz, which answers only once every
    # resource is registered; with the base's networking (no host network) it did so on the
    # pod's own address.
    host_network = item["spec"].get("hostNetwork", False)
    observed("plugin pod network", f"hostNetwork {host_network}, pod IP {item['status'].get('podIP')}")
    check(not host_network, "the plugin pod runs on the host network, unlike deploy/base")


@test
def capacity_and_allocatable_match_simulated_host():
    expected = expected_counts()
    observed("expected from the simulated host", expected)
    wait_for(f"allocatable {expected}", 60, lambda: allocatable_is(expected),
             state=allocatable_now)
    capacity = node_resources("capacity")
    allocatable = node_resources("allocatable")
    observed("capacity", capacity)
    observed("allocatable", allocatable)
    check(capacity == expected, f"capacity {capacity} != {expected}")
    check(allocatable == expected, f"allocatable {allocatable} != {expected}")


@test
def azure_sample_pod_gets_enclave_provision_and_aesm():
    create_test_pod(SAMPLE_POD, {EPC: 10})
    wait_pod_running(SAMPLE_POD)
    view = container_view(SAMPLE_POD)
    for path, state in view.items():
        observed(f"{SAMPLE_POD} {path}", state)
    enclave, provision = host_device("/dev/sgx_enclave"), host_device("/dev/sgx_provision")
    check(enclave and provision, "the host has no /dev/sgx_enclave or /dev/sgx_provision node")
    for path in ("/dev/sgx_enclave", "/dev/sgx/enclave"):
        check(view[path].startswith(enclave + " "),
              f"{path} in the pod is {view[path]!r}, expected the host's enclave node ({enclave})")
    provision_paths = [p for p in ("/dev/sgx_provision", "/dev/sgx/provision")
                       if view[p].startswith(provision + " ")]
    check(provision_paths, f"no provision device ({provision}) in the pod: {view}")
    if os.path.exists(AESM_SOCKET):
        check(view["SGX_AESM_ADDR"] == "1", f"SGX_AESM_ADDR is {view['SGX_AESM_ADDR']!r}, expected 1")
        check(view[AESM_SOCKET] == "socket", f"{AESM_SOCKET} in the pod: {view[AESM_SOCKET]!r}")
    listing = exec_in(SAMPLE_POD, "ls -l /dev/sgx_enclave /dev/sgx_provision /dev/sgx/ 2>&1")
    observed(f"{SAMPLE_POD} ls -l", "\n    " + listing.strip().replace("\n", "\n    "))
    held = node_resources("allocatable")[EPC]
    observed("EPC allocatable while the sample runs (not reduced: allocatable counts devices)", held)


@test
def pod_asking_too_much_epc_stays_pending():
    too_much = expected_epc_mib() + 1
    create_test_pod("too-much-epc", {EPC: too_much})

    def unschedulable():
        status = pod("too-much-epc")["status"]
        for condition in status.get("conditions", []):
            if condition["type"] == "PodScheduled" and condition["status"] == "False":
                return condition
        return None
    condition = wait_for("the scheduler to refuse the pod", 60, unschedulable)
    observed(f"scheduler on a pod asking {too_much} MiB",
             f"{condition.get('reason')}: {condition.get('message')}")
    check(condition.get("reason") == "Unschedulable", f"reason {condition.get('reason')!r}")
    check(f"Insufficient {EPC}" in condition.get("message", ""), f"message {condition.get('message')!r}")
    check(pod("too-much-epc")["status"]["phase"] == "Pending", "the pod left Pending")
    delete_pod("too-much-epc")


def single_resource_pod(pod_name, resource, host_node, present, absent):
    """Runs a pod asking for one slot of `resource`; checks that the host's `host_node` shows at
    one of the `present` paths and nothing at the `absent` paths."""
    create_test_pod(pod_name, {resource: 1})
    wait_pod_running(pod_name)
    view = container_view(pod_name)
    for path, state in view.items():
        observed(f"{pod_name} {path}", state)
    expected = host_device(host_node)
    check(any(view[path].startswith(expected + " ") for path in present),
          f"none of {present} is the host's {host_node} ({expected}) in {pod_name}: {view}")
    for path in absent:
        check(view[path] == "absent", f"{path} in {pod_name}: {view[path]!r}")
    delete_pod(pod_name)


@test
def enclave_resource_pod_gets_no_provision_device():
    single_resource_pod("enclave-only", ENCLAVE, "/dev/sgx_enclave",
                        present=("/dev/sgx_enclave",),
                        absent=("/dev/sgx_provision", "/dev/sgx/provision"))


@test
def provision_resource_pod_gets_only_provision_device():
    single_resource_pod("provision-only", PROVISION, "/dev/sgx_provision",
                        present=("/dev/sgx_provision", "/dev/sgx/provision"),
                        absent=("/dev/sgx_enclave", "/dev/sgx/enclave"))


ACCOUNTING_NAMESPACE = "cn-e2e-team"


@test
def per_pod_epc_metrics_follow_pods_and_vanish_when_deleted():
    """Two pods with 10 and 20 MiB of EPC show up in the plugin's metrics with their namespace,
    pod and container (from the real kubelet's PodResources API), and vanish when deleted."""
    total = expected_epc_mib() * 1024 * 1024
    mib = 1024 * 1024
    kubectl("create", "namespace", ACCOUNTING_NAMESPACE)
    try:
        create_test_pod("epc-ten", {EPC: 10}, container="enclave-app")
        create_test_pod("epc-twenty", {EPC: 20, ENCLAVE: 1}, namespace=ACCOUNTING_NAMESPACE,
                        container="worker")
        wait_pod_running("epc-ten")
        wait_pod_running("epc-twenty", namespace=ACCOUNTING_NAMESPACE)
        ten = ('cn_sgx_epc_allocated_bytes{container="enclave-app",namespace="default",'
               f'pod="epc-ten"}} {10 * mib}')
        twenty = ('cn_sgx_epc_allocated_bytes{container="worker",namespace="cn-e2e-team",'
                  f'pod="epc-twenty"}} {20 * mib}')
        sample = ('cn_sgx_epc_allocated_bytes{container="main",namespace="default",'
                  f'pod="{SAMPLE_POD}"}} {10 * mib}')
        slots = 'cn_sgx_enclave_slots_allocated{namespace="cn-e2e-team",pod="epc-twenty"} 1'
        started = time.monotonic()
        text = wait_for("both pods in the plugin's metrics", 60,
                        lambda: (lambda t: t if ten in t and twenty in t else None)(
                            plugin_metrics()),
                        state=lambda: metric_lines(plugin_metrics(), ("cn_sgx_epc_allocated",)))
        observed("pods in the metrics", f"{time.monotonic() - started:.1f} s after both ran")
        lines = metric_lines(text, ("cn_sgx_epc_", "cn_sgx_enclave_slots", "cn_sgx_pod_resources"))
        observed("metrics", "\n    " + "\n    ".join(lines))
        check(sample in text, f"the sample pod's 10 MiB is not in the metrics: {lines}")
        check(slots in text, f"no enclave slot for epc-twenty: {lines}")
        check(f"cn_sgx_epc_allocatable_bytes {total}" in text, f"allocatable is not {total}: {lines}")
        free = total - 40 * mib
        check(f"cn_sgx_epc_free_bytes {free}" in text, f"free is not {free}: {lines}")
        check("cn_sgx_pod_resources_up 1" in text, f"PodResources not up: {lines}")
    finally:
        delete_pod("epc-ten")
        delete_pod("epc-twenty", namespace=ACCOUNTING_NAMESPACE)
        kubectl("delete", "namespace", ACCOUNTING_NAMESPACE, "--ignore-not-found", "--wait=false")
    started = time.monotonic()
    text = wait_for("both pods gone from the plugin's metrics", 60,
                    lambda: (lambda t: t if 'pod="epc-ten"' not in t and
                             'pod="epc-twenty"' not in t else None)(plugin_metrics()),
                    state=lambda: metric_lines(plugin_metrics(), ("cn_sgx_epc_allocated",)))
    observed("pods gone from the metrics", f"{time.monotonic() - started:.1f} s after deletion")
    lines = metric_lines(text, ("cn_sgx_epc_allocated", "cn_sgx_epc_free", "cn_sgx_enclave_slots"))
    observed("metrics after deletion", "\n    " + "\n    ".join(lines))
    check(f"cn_sgx_epc_free_bytes {total - 10 * mib}" in text, f"free after deletion: {lines}")
    check("cn_sgx_enclave_slots_allocated{" not in text, f"a slot series stayed: {lines}")


def sample_keeps_devices(context):
    status = pod(SAMPLE_POD)["status"]
    check(status["phase"] == "Running", f"{SAMPLE_POD} is {status['phase']} {context}")
    restarts = status["containerStatuses"][0]["restartCount"]
    check(restarts == 0, f"{SAMPLE_POD} restarted {restarts} times {context}")
    view = container_view(SAMPLE_POD)
    check(view["/dev/sgx_enclave"].startswith("char "), f"{SAMPLE_POD} lost its device {context}: {view}")
    observed(f"{SAMPLE_POD} {context}", f"Running, /dev/sgx_enclave {view['/dev/sgx_enclave']}")


@test
def killed_plugin_pod_is_replaced_and_capacity_returns():
    expected = expected_counts()
    namespace, old = wait_for("a Ready plugin pod", 60, ready_plugin_pod)
    old_uid = old["metadata"]["uid"]
    started = time.monotonic()
    kubectl("delete", "pod", old["metadata"]["name"], "-n", namespace, "--wait=false")
    lowest = {name: count for name, count in expected.items()}

    def replaced_and_restored():
        allocatable = node_resources("allocatable")
        for name in RESOURCES:
            if allocatable[name] is not None:
                lowest[name] = min(lowest[name], allocatable[name])
        ready = ready_plugin_pod()
        return ready and ready[1]["metadata"]["uid"] != old_uid and allocatable == expected
    wait_for("a new plugin pod and full allocatable", 120, replaced_and_restored, interval=0.1,
             state=allocatable_now)
    observed("plugin pod replaced and allocatable restored after", f"{time.monotonic() - started:.1f} s")
    observed("lowest allocatable seen meanwhile", lowest)
    check(lowest[EPC] == 0, f"EPC allocatable never dropped while the plugin was gone: {lowest}")
    capacity = node_resources("capacity")
    observed("capacity after the replacement", capacity)
    check(capacity == expected, f"capacity {capacity} != {expected}")
    sample_keeps_devices("after the plugin pod was killed")


@test
def plugin_absent_allocatable_drops_to_zero_and_returns():
    # The DaemonSet replaces a killed pod within a status update or two, so the drop is shown
    # deterministically by keeping the plugin off the node: a nodeSelector no node matches.
    expected = expected_counts()
    namespace, name, _ = plugin_daemonset()
    kubectl("patch", "daemonset", name, "-n", namespace, "--type", "merge", "-p",
            json.dumps({"spec": {"template": {"spec": {"nodeSelector": {"cn-e2e/absent": "true"}}}}}))
    try:
        started = time.monotonic()
        wait_for("the plugin pod to go", 90, lambda: not plugin_pods()[1])
        zero = {name_: 0 for name_ in RESOURCES}
        wait_for("allocatable 0 for every resource", 60, lambda: allocatable_is(zero),
                 state=allocatable_now)
        observed("allocatable without the plugin", node_resources("allocatable"))
        observed("capacity without the plugin", node_resources("capacity"))
        observed("allocatable reached 0 after", f"{time.monotonic() - started:.1f} s")
    finally:
        kubectl("patch", "daemonset", name, "-n", namespace, "--type", "json", "-p",
                json.dumps([{"op": "remove", "path": "/spec/template/spec/nodeSelector/cn-e2e~1absent"}]))
    started = time.monotonic()
    wait_for("allocatable back to full", 120, lambda: allocatable_is(expected), state=allocatable_now)
    observed("allocatable back after the DaemonSet returned", f"{time.monotonic() - started:.1f} s")
    sample_keeps_devices("while the plugin was away")


KLOG_HEADER = re.compile(r"^I(\d{2})(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{6}) ")
KUBELET_SERVING = "Serving device plugin registration server on"
REGISTRATION = re.compile(r'Got registration request from device plugin with resource name "([^"]+)"')


def kubelet_log_events():
    """(epoch seconds the current kubelet began serving kubelet.sock or None,
    {resource: epoch seconds of its first registration with that kubelet})."""
    serving, registered = None, {}
    year = datetime.datetime.now().year
    with open(os.path.join(STATE, "logs", "kubelet.log"), errors="replace") as handle:
        for line in handle:
            header = KLOG_HEADER.match(line)
            if not header:
                continue
            month, day, hour, minute, second, micro = (int(g) for g in header.groups())
            stamp = datetime.datetime(year, month, day, hour, minute, second, micro).timestamp()
            if KUBELET_SERVING in line and serving is None:
                serving = stamp
            registration = REGISTRATION.search(line)
            if registration:
                registered.setdefault(registration.group(1), stamp)
    return serving, registered


@test
def kubelet_restart_plugin_registers_again_and_pods_schedule():
    expected = expected_counts()
    cluster = os.path.join(HERE, "cluster")
    subprocess.run([cluster, "kubelet", "stop"], check=True, capture_output=True)
    started = time.time()
    subprocess.run([cluster, "kubelet", "start"], check=True, capture_output=True)
    serving, registered = wait_for(
        "all three resources to register with the new kubelet", 90,
        lambda: (lambda e: e if e[0] and set(RESOURCES) <= set(e[1]) else None)(kubelet_log_events()))
    observed("new kubelet serving kubelet.sock after its start", f"{serving - started:.2f} s")
    for name in RESOURCES:
        observed(f"{name} registered after kubelet.sock appeared", f"{registered[name] - serving:.3f} s")
    observed("time to re-register all resources, from kubelet.sock",
             f"{max(registered.values()) - serving:.3f} s")
    observed("time to re-register all resources, from the kubelet's start",
             f"{max(registered.values()) - started:.2f} s")
    wait_for("node Ready and allocatable full", 90, lambda: allocatable_is(expected) and any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in kubectl_json("get", "node", NODE)["status"]["conditions"]),
        state=allocatable_now)
    observed("allocatable full again after kubelet start", f"{time.time() - started:.1f} s")
    create_test_pod("after-kubelet-restart", {EPC: 10})
    wait_pod_running("after-kubelet-restart")
    view = container_view("after-kubelet-restart")
    check(view["/dev/sgx_enclave"].startswith("char "), f"new pod lacks the enclave device: {view}")
    observed("new pod after kubelet restart", f"Running, /dev/sgx_enclave {view['/dev/sgx_enclave']}")
    delete_pod("after-kubelet-restart")
    sample_keeps_devices("after the kubelet restart")


@test
def removed_enclave_node_drops_allocatable_and_restoring_brings_it_back():
    expected = expected_counts()
    path = "/dev/sgx_enclave"
    info = os.stat(path)
    mode, device = info.st_mode, info.st_rdev
    os.remove(path)
    try:
        started = time.monotonic()

        def dropped():
            allocatable = node_resources("allocatable")
            return allocatable if allocatable[EPC] == 0 and allocatable[ENCLAVE] == 0 else None
        allocatable = wait_for("EPC and enclave allocatable 0", 20, dropped, state=allocatable_now)
        observed(f"allocatable {time.monotonic() - started:.1f} s after removing {path}", allocatable)
    finally:
        os.mknod(path, mode, device)
        os.chmod(path, mode & 0o7777)
    started = time.monotonic()
    wait_for("allocatable back to full", 30, lambda: allocatable_is(expected), state=allocatable_now)
    observed(f"allocatable back {time.monotonic() - started:.1f} s after restoring {path}",
             node_resources("allocatable"))


def remove_leftover_test_pods():
    """After a failed test: its pods would hold EPC or slots the next tests count on. The sample
    pod stays; later tests check that it keeps its devices."""
    try:
        items = kubectl_json("get", "pods", "-n", TEST_NAMESPACE, "-l", "cn-e2e=test")["items"]
        for item in items:
            if item["metadata"]["name"] != SAMPLE_POD:
                delete_pod(item["metadata"]["name"])
    except (Failure, subprocess.TimeoutExpired) as error:
        print(f"cleanup after the failure: {error}", flush=True)


def main():
    check(PLUGIN_IMAGE, "CN_E2E_PLUGIN_IMAGE is not set")
    passed = failed = 0
    started = time.monotonic()
    for function in TESTS:
        name = function.__name__
        print(f"--- {name}", flush=True)
        test_started = time.monotonic()
        try:
            function()
        except Exception as error:  # a crash of one test is that test's failure, not the suite's
            failed += 1
            detail = str(error) if isinstance(error, Failure) else traceback.format_exc()
            print(f"FAIL {name} ({time.monotonic() - test_started:.1f} s): {detail}", flush=True)
            remove_leftover_test_pods()
        else:
            passed += 1
            print(f"PASS {name} ({time.monotonic() - test_started:.1f} s)", flush=True)
    try:
        delete_pod(SAMPLE_POD)
    except Failure as error:
        print(f"cleanup: {error}", flush=True)
    print(f"e2e suite took {time.monotonic() - started:.0f} s")
    print(f"e2e: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
