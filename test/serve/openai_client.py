#!/usr/bin/env python3
"""The real openai client against dgc-serve: completions and chat, streamed
and not (the streamed text equals the whole answer's for the same seed), n,
stop, the sampler's own fields, /v1/models, /health and /metrics."""

import sys

import openai

from serving import Server, arguments, check


def main():
    args = arguments()
    server = Server(args, "--api-key", "sekrit")
    try:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="sekrit", max_retries=0)
        models = client.models.list()
        check([m.id for m in models.data] == ["tiny"], "/v1/models lists the module")

        extra = {"t_min": 0.3, "t_max": 0.9, "max_denoising_steps": 6}
        whole = client.completions.create(model="tiny", prompt="The sky is", max_tokens=40,
                                          seed=5, extra_body=extra)
        text = whole.choices[0].text
        check(whole.object == "text_completion" and whole.usage.completion_tokens > 0,
              "completion: %r, usage %s" % (text, whole.usage))
        check(whole.choices[0].finish_reason in ("stop", "length"), "completion finish_reason")
        again = client.completions.create(model="tiny", prompt="The sky is", max_tokens=40,
                                          seed=5, extra_body=extra)
        check(again.choices[0].text == text, "same seed, same text")
        streamed = client.completions.create(model="tiny", prompt="The sky is", max_tokens=40,
                                             seed=5, extra_body=extra, stream=True)
        chunks = [c.choices[0].text for c in streamed if c.choices]
        check("".join(chunks) == text and len(chunks) >= 2,
              "streamed completion equals the whole one (%d events)" % len(chunks))
        other = client.completions.create(model="tiny", prompt="The sky is", max_tokens=40, seed=6)
        check(other.choices[0].text != text, "another seed, another text")

        ids = client.completions.create(model="tiny", prompt=[2, 40, 41, 42], max_tokens=16, seed=1)
        check(ids.usage.prompt_tokens == 4, "a prompt of token ids")
        n = client.completions.create(model="tiny", prompt="The sky is", max_tokens=40, seed=5, n=3,
                                      extra_body=extra)
        check([c.index for c in n.choices] == [0, 1, 2] and n.choices[0].text == text,
              "n=3: choice i uses seed + i")

        messages = [{"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hello there"},
                    {"role": "assistant", "content": "Hi."},
                    {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]}]
        chat = client.chat.completions.create(model="tiny", messages=messages, max_tokens=32, seed=9)
        reply = chat.choices[0].message.content
        check(chat.object == "chat.completion" and chat.choices[0].message.role == "assistant",
              "chat: %r" % reply)
        check(chat.usage.prompt_tokens > 20, "the chat template wrote the conversation (%d tokens)"
              % chat.usage.prompt_tokens)
        stream = client.chat.completions.create(model="tiny", messages=messages, max_tokens=32,
                                                seed=9, stream=True,
                                                stream_options={"include_usage": True})
        parts, usage, finish = [], None, None
        for c in stream:
            if c.usage:
                usage = c.usage
            for ch in c.choices:
                parts.append(ch.delta.content or "")
                finish = ch.finish_reason or finish
        check("".join(parts) == reply, "streamed chat equals the whole reply")
        check(usage is not None and usage.completion_tokens == chat.usage.completion_tokens
              and finish == chat.choices[0].finish_reason, "stream usage and finish_reason")

        # The dgc extension: each denoise step's draft, in choices the client reads as empty.
        drafts = client.completions.create(model="tiny", prompt="The sky is", max_tokens=40, seed=5,
                                           stream=True, extra_body={**extra, "stream_drafts": True})
        steps, texts = 0, []
        for c in drafts:
            for ch in c.choices:
                d = getattr(ch, "dgc_draft", None) or (ch.model_extra or {}).get("dgc_draft")
                if d:
                    steps += 1
                    check(ch.text == "", "a draft event carries no text") if steps == 1 else None
                else:
                    texts.append(ch.text)
        check(steps >= 2 and "".join(texts) == text, "%d drafts streamed, text unchanged" % steps)

        if text:
            stop = text[len(text) // 2:len(text) // 2 + 2]
            cut = client.completions.create(model="tiny", prompt="The sky is", max_tokens=40, seed=5,
                                            stop=[stop], extra_body=extra)
            check(cut.choices[0].text == text[:text.find(stop)] and cut.choices[0].finish_reason == "stop",
                  "stop sequence %r cuts the text" % stop)

        try:
            openai.OpenAI(base_url=server.url + "/v1", api_key="wrong", max_retries=0).models.list()
            check(False, "a wrong API key is refused")
        except openai.AuthenticationError:
            check(True, "a wrong API key is refused (401)")

        status, _, body = server.request("GET", "/health")
        check(status == 200 and '"ok"' in body, "/health")
        status, _, metrics = server.request("GET", "/metrics")
        values = {}
        for line in metrics.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        check(values['dgc_requests_total{outcome="completed"}'] >= 9, "/metrics parses: requests")
        check(values["dgc_completion_tokens_total"] > 0 and values["dgc_denoise_steps_total"] > 0
              and values['dgc_request_seconds_bucket{le="+Inf"}'] >= 9
              and "dgc_kv_pages_in_use{pool=\"kv_cache_full\"}" in values, "/metrics: tokens, steps, latency, pages")
    finally:
        code, err = server.stop()
    check(code == 0, "SIGTERM: exit status 0 (%s)" % err.strip().splitlines()[-1:])
    print("1 passed, 0 failed")


if __name__ == "__main__":
    sys.exit(main())
