#!/usr/bin/env python3
"""Load: CLIENTS concurrent clients send REQUESTS requests of mixed lengths
(64 distinct ones, each several times, some streamed); every request must be
answered exactly once, and each answer must equal the same request run
alone. Prints requests/s, tokens/s and the p50 and p99 latency.

With --sigterm, the server is sent SIGTERM while the load runs: every
request it answered must be whole and right, the others refused (503) or
never read, and the server must exit 0 having answered exactly those."""

import json
import signal
import sys
import threading
import time
import urllib.error

from serving import Server, arguments, check

WORDS = ["the", "sky", "river", "stone", "light", "over", "green", "slowly", "and", "a"]


def distinct(n):
    out = []
    for i in range(n):
        prompt = " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(1 + i % 9))
        out.append({"model": "tiny", "prompt": prompt, "max_tokens": 16 * (1 + i % 4),
                    "seed": 1000 + i, "max_denoising_steps": 4 + i % 5})
    return out


def answer(server, body, stream):
    """(text, token count) of one request, or raises."""
    if not stream:
        status, _, text = server.request("POST", "/v1/completions", body)
        if status != 200:
            raise RuntimeError("HTTP %d: %s" % (status, text[:200]))
        doc = json.loads(text)
        return doc["choices"][0]["text"], doc["usage"]["completion_tokens"]
    status, _, text = server.request("POST", "/v1/completions",
                                     {**body, "stream": True,
                                      "stream_options": {"include_usage": True}})
    if status != 200:
        raise RuntimeError("HTTP %d: %s" % (status, text[:200]))
    events = [e[len("data: "):] for e in text.split("\n\n") if e.startswith("data: ")]
    if not events or events[-1] != "[DONE]":
        raise RuntimeError("stream cut short")
    parts, tokens = [], None
    for e in events[:-1]:
        doc = json.loads(e)
        parts += [c["text"] for c in doc["choices"]]
        if doc.get("usage"):
            tokens = doc["usage"]["completion_tokens"]
    return "".join(parts), tokens


def main():
    args = arguments({"--clients": {"type": int, "default": 64},
                      "--requests": {"type": int, "default": 512},
                      "--max-batch": {"default": "8"},
                      "--sigterm": {"action": "store_true"}})
    kinds = distinct(64)
    # Each distinct request alone, one at a time: the answers to match.
    alone = Server(args, "--max-batch", "1")
    try:
        expected = [answer(alone, k, False) for k in kinds]
    finally:
        alone.stop()
    check(len(set(t for t, _ in expected)) > 32, "64 distinct requests run alone")

    server = Server(args, "--max-batch", args.max_batch, "--max-queue", str(args.clients))
    jobs = list(range(args.requests))
    lock = threading.Lock()
    results = {}  # job -> (ok, latency, tokens, error)

    def client():
        while True:
            with lock:
                if not jobs:
                    return
                job = jobs.pop(0)
            k = job % len(kinds)
            start = time.time()
            try:
                text, tokens = answer(server, kinds[k], stream=job % 4 == 3)
                ok = (text, tokens) == expected[k]
                err = None if ok else "answer differs from the request run alone: %r != %r (stream %s)" % ((text, tokens), expected[k], job % 4 == 3)
            except (RuntimeError, OSError, urllib.error.URLError, ValueError) as e:
                ok, tokens, err = False, 0, str(e)
            with lock:
                if job in results:
                    err, ok = "answered twice", False
                results[job] = (ok, time.time() - start, tokens, err)

    started = time.time()
    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in threads:
        t.start()
    code = None
    if args.sigterm:
        while True:
            with lock:
                if len(results) >= args.requests // 4:
                    break
            time.sleep(0.01)
        code, err = server.stop(timeout=120)
    for t in threads:
        t.join()
    elapsed = time.time() - started
    if not args.sigterm:
        code, err = server.stop()

    answered = [r for r in results.values() if r[0]]
    wrong = [r for r in results.values() if not r[0]]
    if args.sigterm:
        # Refused (503) or never read (the listener was closed): not accepted.
        refused = [r for r in wrong if "HTTP 503" in r[3] or "refused" in r[3]
                   or "reset" in r[3] or "closed" in r[3] or "Remote end" in r[3]]
        bad = [r for r in wrong if r not in refused]
        n = int(err.strip().splitlines()[-1].split("; ")[1].split()[0])
        check(code == 0, "SIGTERM during load: exit status 0")
        check(not bad, "every answer during the drain is whole and right %s"
              % [r[3] for r in bad[:3]])
        check(n == len(answered), "the server answered %d, the clients got %d; %d refused"
              % (n, len(answered), len(refused)))
        print("1 passed, 0 failed")
        return 0

    check(len(results) == args.requests and not wrong,
          "%d requests answered exactly once, each as when run alone %s"
          % (len(results), [r[3] for r in wrong[:3]]))
    check(code == 0, "exit status 0")
    latencies = sorted(r[1] for r in answered)
    tokens = sum(r[2] for r in answered)
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    print("load: %d clients, %d requests in %.2f s: %.1f requests/s, %.0f tokens/s, "
          "latency p50 %.3f s, p99 %.3f s"
          % (args.clients, len(answered), elapsed, len(answered) / elapsed, tokens / elapsed,
             p(0.50), p(0.99)))
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
