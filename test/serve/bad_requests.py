#!/usr/bin/env python3
"""Bad requests get OpenAI's error JSON with 400, 401, 404, 413 or 429 and a
message naming the field and the rule; a client that goes away is cancelled
and its KV pages freed; and a good request still succeeds afterwards."""

import json
import socket
import sys
import threading
import time

from serving import Server, arguments, check

C = "/v1/completions"
CHAT = "/v1/chat/completions"
GOOD = {"model": "tiny", "prompt": "Hello", "max_tokens": 16, "seed": 1}

CASES = [
    # (path, body (dict, or bytes sent as is), status, message fragment)
    (C, b"{not json", 400, "not valid JSON"),
    (C, b"[1, 2]", 400, "must be a JSON object"),
    (C, b"", 400, "not valid JSON"),
    (C, b'{"model": "tiny", "prompt": "a", "prompt": "b"}', 400, "prompt"),
    (C, b"[" * 100 + b"]" * 100, 400, "deeper"),
    (C, {"prompt": "Hello"}, 400, 'expected a "model"'),
    (C, {"model": "tiny"}, 400, 'expected "prompt"'),
    (C, {"model": "other", "prompt": "Hello"}, 404, "The model 'other' does not exist"),
    (C, {**GOOD, "temperature": 0.7}, 400, "unsupported field 'temperature'"),
    (C, {**GOOD, "top_p": 0.9}, 400, "unsupported field 'top_p'"),
    (C, {**GOOD, "logprobs": 2}, 400, "unsupported field 'logprobs'"),
    (C, {**GOOD, "messages": []}, 400, "unsupported field 'messages'"),
    (C, {**GOOD, "model": 7}, 400, "model: expected a string, got an integer"),
    (C, {**GOOD, "prompt": ""}, 400, "the prompt is empty"),
    (C, {**GOOD, "prompt": ["a", "b"]}, 400, "a list of prompts is not served"),
    (C, {**GOOD, "prompt": [1, -2]}, 400, "token ids"),
    (C, {**GOOD, "prompt": [1, 600]}, 400, "prompt token 1 is 600, outside the vocabulary"),
    (C, {**GOOD, "prompt": {"text": "x"}}, 400, "prompt: expected a string or a non-empty array"),
    (C, {**GOOD, "max_tokens": 0}, 400, "max_tokens: expected a positive integer"),
    (C, {**GOOD, "max_tokens": "16"}, 400, "max_tokens: expected a positive integer, got a string"),
    (C, {**GOOD, "max_tokens": 5000}, 400, "beyond the model's 4096 (max_position_embeddings)"),
    (C, {**GOOD, "prompt": [5] * 4095}, 400, "max_position_embeddings"),
    (C, {**GOOD, "seed": 1.5}, 400, "seed: expected an integer"),
    (C, {**GOOD, "n": 0}, 400, "n: expected an integer from 1 to 16"),
    (C, {**GOOD, "n": 17}, 400, "n: expected an integer from 1 to 16"),
    (C, {**GOOD, "stop": 3}, 400, "stop: expected a string or an array"),
    (C, {**GOOD, "stop": ["a", "b", "c", "d", "e"]}, 400, "up to 4 strings"),
    (C, {**GOOD, "stop": [""]}, 400, "stop sequence is empty"),
    (C, {**GOOD, "stream": "yes"}, 400, "stream: expected a boolean"),
    (C, {**GOOD, "stream_options": {"include_usage": True}}, 400, 'only with "stream": true'),
    (C, {**GOOD, "stream": True, "stream_options": {"x": 1}}, 400, "unsupported field 'x'"),
    (C, {**GOOD, "stream_drafts": True}, 400, 'only with "stream": true'),
    (C, {**GOOD, "t_min": "low"}, 400, "t_min: expected a number"),
    (C, {**GOOD, "t_max": -1}, 400, "t_max"),
    (C, {**GOOD, "t_min": 0.9, "t_max": 0.5}, 400, "t_min"),
    (C, {**GOOD, "max_denoising_steps": 0}, 400, "max_denoising_steps"),
    (C, {**GOOD, "max_denoising_steps": 2.5}, 400, "max_denoising_steps: expected an integer"),
    (C, {**GOOD, "entropy_bound": 0}, 400, "entropy_bound"),
    (C, {**GOOD, "ignore_eos": 1}, 400, "ignore_eos: expected a boolean"),
    (CHAT, {"model": "tiny", "prompt": "x"}, 400, "unsupported field 'prompt'"),
    (CHAT, {"model": "tiny", "messages": []}, 400, "messages: expected a non-empty array"),
    (CHAT, {"model": "tiny", "messages": [{"role": "user"}]}, 400, 'expected a "content"'),
    (CHAT, {"model": "tiny", "messages": [{"role": "robot", "content": "x"}]}, 400,
     "'robot' is not one of"),
    (CHAT, {"model": "tiny", "messages": [{"role": "user", "content": "x", "name": "n"}]}, 400,
     "unsupported field 'name'"),
    (CHAT, {"model": "tiny", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "x"}}]}]}, 400, "only text parts"),
    (CHAT, {"model": "tiny", "messages": [{"role": "user", "content": 5}]}, 400,
     "content: expected a string or an array of text parts"),
    (CHAT, {"model": "tiny", "messages": [{"role": "user", "content": "x"},
                                          {"role": "system", "content": "late"}]}, 400,
     "roles after the first message are user or assistant"),
    (CHAT, {"model": "tiny", "messages": [{"role": "user", "content": "x"}], "tools": []}, 400,
     "unsupported field 'tools'"),
    ("/v1/nothing", {}, 404, "no route POST /v1/nothing"),
    (C, b"{" + b'"prompt": "' + b"x" * (2 << 20) + b'"}', 413, "larger than the server accepts"),
]


def metric(server, name):
    _, _, text = server.request("GET", "/metrics")
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError(name)


def raw_request(server, body, read=0):
    """Sends a request on a socket, reads `read` bytes, then hangs up."""
    host, port = server.url[len("http://"):].split(":")
    s = socket.create_connection((host, int(port)))
    data = json.dumps(body).encode()
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(data) + data)
    got = b""
    while len(got) < read:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    s.close()
    return got


def wait_for(cond, what, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return check(True, what)
        time.sleep(0.05)
    check(False, what)


def main():
    args = arguments()
    server = Server(args, "--max-batch", "1", "--max-queue", "1")
    failures = 0
    try:
        for path, body, status, fragment in CASES:
            raw = body if isinstance(body, bytes) else None
            got, _, text = server.request("POST", path, None if raw is not None else body, raw=raw)
            try:
                error = json.loads(text)["error"]
                ok = got == status and fragment in error["message"] and "type" in error
            except (ValueError, KeyError, TypeError):
                ok, error = False, text[:300]
            if not ok:
                failures += 1
                print("FAIL %s %s: expected %d with %r, got %d %s"
                      % (path, str(body)[:80], status, fragment, got, error))
        check(failures == 0, "%d bad requests refused with OpenAI errors" % len(CASES))
        wait_for(lambda: metric(server, 'dgc_requests_total{outcome="bad_request"}') >= 40,
                 "/metrics counts the bad requests")

        # The queue holds one request: a third at once is told to come back.
        long = {**GOOD, "max_tokens": 2000, "ignore_eos": True}
        results = []
        threads = [threading.Thread(target=lambda: results.append(
            server.request("POST", C, {**long, "max_tokens": 400}))) for _ in range(4)]
        for t in threads:
            t.start()
            time.sleep(0.05)
        for t in threads:
            t.join()
        limited = [r for r in results if r[0] == 429]
        check(limited and all(r[1].get("Retry-After") == "1" and "queue is full" in r[2]
                              for r in limited), "429 with Retry-After when the queue is full")
        check(any(r[0] == 200 for r in results), "the others are answered")

        # Clients that hang up: streamed (after its first event) and not.
        cancelled = metric(server, 'dgc_requests_total{outcome="cancelled"}')
        raw_request(server, {**long, "stream": True}, read=200)
        raw_request(server, long)
        wait_for(lambda: metric(server, 'dgc_requests_total{outcome="cancelled"}') == cancelled + 2,
                 "both clients that went away were cancelled")
        wait_for(lambda: metric(server, 'dgc_kv_pages_in_use{pool="kv_cache_full"}') == 0
                 and metric(server, "dgc_running_requests") == 0, "their KV pages are free")

        status, _, text = server.request("POST", C, GOOD)
        check(status == 200 and json.loads(text)["choices"][0]["text"] is not None,
              "a good request still succeeds")
    finally:
        code, err = server.stop()
    check(code == 0, "exit status 0")
    print("%d passed, %d failed" % (failures == 0, failures != 0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
