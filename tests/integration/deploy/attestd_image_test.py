#!/usr/bin/env python3
"""The sgx-attestd image recipe (deploy/attestd/pack-attestd-image) gives an image that runs.

Packs the image from BIN_DIR, reads it as a container runtime would (manifest.json, the image
config, the one layer), unpacks the layer and runs the image's entrypoint chrooted into it (as
root: as the Deployment's user 65532; otherwise in a user namespace, `unshare -r`), so nothing
of this machine's file system is there: it must start with a key and collateral from
sgx-simulate-quote placed in the image's /tmp, answer /readyz 200, and exit 0 on SIGTERM.
Skipped (exit 77) when neither chroot nor a user namespace is possible. No container runtime is
involved (the e2e cluster runs the plugin's image, packed the same way, under containerd).

  attestd_image_test.py BIN_DIR
"""

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = None


def read(path):
    with open(path) as source:
        return source.read()


def run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=True, **kwargs)


class AttestdImageTest(unittest.TestCase):
    def test_the_packed_image_runs_its_entrypoint_with_only_its_own_libraries(self):
        with tempfile.TemporaryDirectory() as work:
            image = os.path.join(work, "attestd.tar")
            run([os.path.join(REPO, "deploy", "attestd", "pack-attestd-image"),
                 os.path.dirname(BIN), image])
            with tarfile.open(image) as archive:
                manifest = json.load(archive.extractfile("manifest.json"))
                self.assertEqual(len(manifest), 1)
                self.assertEqual(manifest[0]["RepoTags"], ["confidential-nodes/sgx-attestd:dev"])
                config = json.load(archive.extractfile(manifest[0]["Config"]))
                self.assertEqual(len(manifest[0]["Layers"]), 1)
                layer = archive.extractfile(manifest[0]["Layers"][0]).read()
            self.assertEqual(config["config"]["Entrypoint"], ["/usr/local/bin/sgx-attestd"])
            root = os.path.join(work, "root")
            os.mkdir(root)
            with tarfile.open(fileobj=io.BytesIO(layer)) as files:
                names = files.getnames()
                files.extractall(root)
            for directory in ("tmp", "var/cache/sgx-attestd"):
                self.assertTrue(os.path.isdir(os.path.join(root, directory)), directory)
            self.assertIn("usr/local/bin/sgx-attestd", names)

            # Inputs as the Deployment mounts them, readable by its user: a key, a test root,
            # offline collateral.
            inputs = os.path.join(root, "tmp", "in")
            run([os.path.join(BIN, "sgx-simulate-quote"), "--out", inputs])
            run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-out", os.path.join(inputs, "key.pem")])
            for directory, _, files in os.walk(inputs):
                os.chmod(directory, 0o755)
                for name in files:
                    os.chmod(os.path.join(directory, name), 0o644)
            chroot = ([shutil.which("chroot"), "--userspec=65532:65532", root]
                      if os.geteuid() == 0
                      else [shutil.which("unshare"), "-r", shutil.which("chroot"), root])
            log_path = os.path.join(work, "attestd.log")
            with open(log_path, "w") as log:
                process = subprocess.Popen(
                    chroot + config["config"]["Entrypoint"] +
                    ["--listen", "127.0.0.1:0", "--signing-key", "/tmp/in/key.pem",
                     "--root-ca", "/tmp/in/root_ca.pem", "--collateral-dir", "/tmp/in/collateral"],
                    stdout=log, stderr=subprocess.STDOUT, env={})
            try:
                port = None
                deadline = time.monotonic() + 10
                while port is None and time.monotonic() < deadline and process.poll() is None:
                    text = read(log_path)
                    at = text.find("on 127.0.0.1:")
                    if at >= 0:
                        port = int(text[at + 13:].split()[0])
                    else:
                        time.sleep(0.05)
                self.assertIsNotNone(port, read(log_path))
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as ready:
                    self.assertEqual(ready.status, 200)
                process.send_signal(signal.SIGTERM)
                self.assertEqual(process.wait(timeout=5), 0, read(log_path))
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    BIN = os.path.abspath(sys.argv.pop())
    probe = (["chroot", "/", "/bin/true"] if os.geteuid() == 0
             else ["unshare", "-r", "chroot", "/", "/bin/true"])
    if shutil.which(probe[0]) is None or subprocess.run(probe, capture_output=True).returncode:
        print("SKIPPED: cannot chroot here (%s)" % " ".join(probe))
        sys.exit(77)
    unittest.main()
