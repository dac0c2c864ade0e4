#!/usr/bin/env python3
"""dgc-serve's chat templates against Python's jinja2.

Renders each TEMPLATE for many generated contexts (system, user, assistant
and tool messages; text and image parts; thinking channels; tools with
nested parameter schemas; tool calls with nested arguments; thinking on or
off; with and without the generation prompt) twice: with jinja2 set up as
transformers' apply_chat_template sets it up, and with dgc's renderer
(dgc-render-chat). Every render must agree byte for byte, and a context one
of them refuses the other must refuse too.

    chat_template_check.py --render BUILD/bin/dgc-render-chat [--cases N] TEMPLATE...
"""

import argparse
import json
import random
import subprocess
import sys
import tempfile

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment


def transformers_env():
    """jinja2 as transformers' chat template utilities configure it."""

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                          separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


PIECES = ["Hello", "world", "  padded  ", "\n", "\n\n", "\t", "héllo", "日本語",
          "🙂", "\u00a0nbsp\u00a0", "<|turn>", "<turn|>", "<bos>", "a,b", "{x}",
          "'quote'", '"dq"', "back\\slash", "42", "3.5", "<|\"|>", "end."]


def text(rng, most=6):
    return "".join(rng.choice(PIECES) + rng.choice(["", " "])
                   for _ in range(rng.randint(0, most)))


def value(rng, depth=0):
    kind = rng.randint(0, 7 if depth < 2 else 4)
    if kind == 0:
        return text(rng, 3)
    if kind == 1:
        return rng.randint(-5, 100)
    if kind == 2:
        return rng.choice([0.5, 1.0, -2.25, 1e-5, 3e16])
    if kind == 3:
        return rng.choice([True, False])
    if kind == 4:
        return None
    if kind in (5, 6):
        return {rng.choice(["b", "A", "a", "z_1", "Key"]) + str(i): value(rng, depth + 1)
                for i in range(rng.randint(0, 3))}
    return [value(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def schema(rng, depth=0):
    t = rng.choice(["string", "integer", "number", "boolean", "array", "object"]
                   if depth < 2 else ["string", "integer"])
    s = {"type": t}
    if rng.random() < 0.7:
        s["description"] = text(rng, 3)
    if t == "string" and rng.random() < 0.4:
        s["enum"] = [text(rng, 1) for _ in range(rng.randint(1, 3))]
    if t == "array":
        s["items"] = schema(rng, depth + 1)
    if t == "object":
        s["properties"] = {"p%d" % i: schema(rng, depth + 1) for i in range(rng.randint(0, 3))}
        if s["properties"] and rng.random() < 0.5:
            s["required"] = sorted(s["properties"])[:1]
    if rng.random() < 0.2:
        s["nullable"] = True
    return s


def tool(rng, i):
    f = {"name": "tool_%d" % i, "description": text(rng, 4)}
    if rng.random() < 0.8:
        props = {"arg%d" % k: schema(rng) for k in range(rng.randint(0, 3))}
        f["parameters"] = {"type": "object", "properties": props}
        if props and rng.random() < 0.6:
            f["parameters"]["required"] = sorted(props)[:2]
    if rng.random() < 0.2:
        f["response"] = {"type": "object", "description": text(rng, 2)}
    return {"type": "function", "function": f}


def content(rng, role):
    r = rng.random()
    if r < 0.65:
        c = text(rng)
        if role == "assistant" and rng.random() < 0.3:
            c = "<|channel>thought\n" + text(rng, 3) + "<channel|>" + c
        return c
    if r < 0.9:
        parts = []
        for _ in range(rng.randint(0, 3)):
            kind = rng.choice(["text", "text", "image", "audio", "video"])
            parts.append({"type": kind, "text": text(rng, 3)} if kind == "text" else {"type": kind})
        return parts
    return None


def messages(rng):
    out = []
    if rng.random() < 0.4:
        out.append({"role": rng.choice(["system", "developer"]), "content": text(rng)})
    for turn in range(rng.randint(1, 5)):
        out.append({"role": "user", "content": content(rng, "user")})
        if turn == 0 and rng.random() < 0.1:
            continue
        m = {"role": "assistant", "content": content(rng, "assistant")}
        if rng.random() < 0.25:
            m["tool_calls"] = [{"id": "c%d" % k, "type": "function", "function": {
                "name": "tool_%d" % k,
                "arguments": value(rng) if rng.random() < 0.8 else json.dumps(value(rng))}}
                for k in range(rng.randint(1, 2))]
            if rng.random() < 0.3:
                m["reasoning_content"] = text(rng, 3)
        if rng.random() < 0.1:
            m["tool_responses"] = [{"name": "tool_0", "response": value(rng)}]
        out.append(m)
        if "tool_calls" in m:
            for call in m["tool_calls"]:
                if rng.random() < 0.7:
                    out.append({"role": "tool", "tool_call_id": call["id"],
                                "content": rng.choice([text(rng, 3), [{"type": "text", "text": text(rng, 2)}]])})
    if rng.random() < 0.2:
        out.append({"role": "assistant", "content": text(rng)})
    return out


def contexts(n, seed):
    rng = random.Random(seed)
    for _ in range(n):
        c = {"messages": messages(rng), "bos_token": "<bos>", "eos_token": "<eos>",
             "add_generation_prompt": rng.random() < 0.8}
        r = rng.random()
        if r < 0.3:
            c["enable_thinking"] = True
        elif r < 0.5:
            c["enable_thinking"] = False
        if rng.random() < 0.3:
            c["tools"] = [tool(rng, i) for i in range(rng.randint(1, 3))]
        yield c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--render", required=True, help="dgc-render-chat")
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("templates", nargs="+")
    args = ap.parse_args()
    env = transformers_env()
    failed = 0
    for path in args.templates:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        template = env.from_string(source)
        cases = list(contexts(args.cases, args.seed))
        expected = []
        for c in cases:
            try:
                expected.append({"text": template.render(**c)})
            except Exception as e:  # jinja2 refuses: dgc must refuse too
                expected.append({"error": "%s: %s" % (type(e).__name__, e)})
        with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as f:
            json.dump(cases, f, ensure_ascii=False)
            f.flush()
            run = subprocess.run([args.render, path, f.name], capture_output=True,
                                 text=True, encoding="utf-8")
        if run.returncode != 0:
            print("FAIL %s: dgc-render-chat: %s" % (path, run.stderr.strip()))
            failed += 1
            continue
        got = json.loads(run.stdout)
        bad = 0
        for i, (want, have) in enumerate(zip(expected, got)):
            agree = ("text" in want and have.get("text") == want["text"]) or \
                    ("error" in want and "error" in have)
            if not agree:
                bad += 1
                if bad <= 3:
                    print("MISMATCH %s case %d\n  context: %s\n  jinja2:  %r\n  dgc:     %r"
                          % (path, i, json.dumps(cases[i], ensure_ascii=False)[:2000],
                             want, have))
        renders = sum("text" in w for w in expected)
        print("%s %s: %d contexts (%d rendered, %d refused by both), %d mismatches"
              % ("FAIL" if bad else "ok", path, len(cases), renders,
                 len(cases) - renders - bad, bad))
        failed += bad > 0
    print("%d passed, %d failed" % (len(args.templates) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
