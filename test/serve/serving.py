"""Starts and stops dgc-serve for the tests in this folder (loopback only)."""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request


def arguments(extra=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", required=True, help="the dgc-serve binary")
    ap.add_argument("--module", required=True)
    ap.add_argument("--checkpoint", required=True)
    for name, kw in (extra or {}).items():
        ap.add_argument(name, **kw)
    return ap.parse_args()


class Server:
    """dgc-serve on a free port of 127.0.0.1."""

    def __init__(self, args, *flags):
        self.proc = subprocess.Popen(
            [args.serve, args.module, "--weights", args.checkpoint, "--port", "0",
             "--model-name", "tiny", *flags],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"on (http://[0-9.]+:[0-9]+)", line)
        if not m:
            self.proc.kill()
            sys.exit("dgc-serve did not start: %r %s" % (line, self.proc.stderr.read()))
        self.url = m.group(1)

    def request(self, method, path, body=None, headers=None, raw=None):
        """(status, headers, body text) of one request."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, dict(r.headers), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Signals the server; its exit status and stderr."""
        self.proc.send_signal(sig)
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
            return None, err
        return self.proc.returncode, err


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what.splitlines()[0][:150])
