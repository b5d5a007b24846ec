#!/usr/bin/env python3
"""A stand-in admission webhook for tests/e2e/match-conditions-apiserver.

    stand-in-webhook.py --listen 127.0.0.1:PORT --cert F --key F --calls FILE

Serves POST /mutate and /validate over HTTPS (a query string is ignored). Each AdmissionReview
it receives appends one line "<path> <namespace>/<name>" to FILE before it answers, so that when
the API server's create call returns, FILE says whether the webhook saw the pod. It allows
everything and never patches: the point is to count who is sent here, and the 1.20 API server
built with Go 1.19 dies on the first JSONPatch (docs/e2e.md). Answers in the version asked.
"""

import argparse
import http.server
import json
import ssl
import sys
import threading


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--calls", required=True)
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            path = self.path.split("?", 1)[0]
            if path not in ("/mutate", "/validate"):
                self.send_error(404, "only /mutate and /validate")
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
                review = json.loads(self.rfile.read(length))
                request = review["request"]
                metadata = (request.get("object") or {}).get("metadata") or {}
                who = "%s/%s" % (request.get("namespace") or metadata.get("namespace") or "",
                                 metadata.get("name") or metadata.get("generateName") or "?")
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                self.send_error(400, "not an AdmissionReview: %s" % error)
                return
            with lock, open(args.calls, "a") as calls:
                calls.write("%s %s\n" % (path, who))
            body = json.dumps({
                "apiVersion": review.get("apiVersion", "admission.k8s.io/v1"),
                "kind": "AdmissionReview",
                "response": {"uid": request.get("uid", ""), "allowed": True},
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *arguments):
            sys.stderr.write("stand-in-webhook: %s\n" % (format % arguments))

    server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
