#!/usr/bin/env python3
"""The bad-input suite: each tool, given a broken file or flag, must fail with
an error that names the file, field or flag and the rule it broke.

    run.py --bin DIR --module TINY.dgm --checkpoint DIR --configs DIR
           --images DIR [--work DIR] [--jobs N] [--timeout S] [--filter RE]
           [--list] [-v] [cases/CLASS.json...]

The cases are data (cases/*.json, one file per class; README.md describes
them). Outcomes: pass; crash (a signal, exit >= 128, or abort or sanitizer
text); hang (the timeout); silent-accept (exit 0); unnamed-error (an exit
status but no match for the case's regex). Exits 1 unless every case passes.
"""
import argparse
import collections
import concurrent.futures
import hashlib
import itertools
import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUTCOMES = ["pass", "crash", "hang", "silent-accept", "unnamed-error", "skipped"]
CRASH_TEXT = re.compile(r"AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:|"
                        r"terminate called|Aborted|Segmentation fault|core dumped|"
                        r"Assertion .* failed|Stack dump:|PLEASE submit a bug report")
# Root reads any file; cases about unreadable files run as nobody.
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
ST_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "I16": 2,
            "F16": 2, "BF16": 2, "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8}


def text_of(spec):
    """A string, [string, count] (a repeat), or a list of such parts."""
    if isinstance(spec, str):
        return spec
    if len(spec) == 2 and isinstance(spec[0], str) and isinstance(spec[1], int):
        return spec[0] * spec[1]
    return "".join(text_of(p) for p in spec)


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write(path, text, mode="w"):
    # surrogateescape: "\udcff" in a case is the byte 0xff (invalid UTF-8).
    with open(path, mode, encoding="utf-8", errors="surrogateescape") as f:
        f.write(text)


def edit(doc, keys, *value):
    """doc[k0][k1]... set to the value (objects on the way appear), or
    deleted when no value is given."""
    if not keys:
        return value[0]
    node = doc
    for k in keys[:-1]:
        node = node.setdefault(k, {}) if isinstance(node, dict) else node[k]
    if value:
        node[keys[-1]] = value[0]
    else:
        del node[keys[-1]]
    return doc


def read_st(path):
    with open(path, "rb") as f:
        raw = f.read()
    (length,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + length]), raw[8 + length:]


def write_st(path, header, data, text=None):
    text = (text if text is not None else json.dumps(header)).encode("utf-8", "surrogateescape")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def st_edit(path, change):
    header, data = read_st(path)
    write_st(path, *change(header, data))


def st_add(header, data, name, dtype, shape):
    """A tensor (replacing one of that name) on fresh zero bytes at the end."""
    size = ST_SIZES.get(dtype, 4)
    for d in shape:
        size *= d
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + size]}
    return header, data + bytes(size)


def st_poke(header, data, name, index, value):
    at = header[name]["data_offsets"][0] + 4 * index  # an F32 element
    return header, data[:at] + struct.pack("<f", float(value)) + data[at + 4:]


def shard(directory, count):
    """model.safetensors split into `count` shards and an index."""
    header, data = read_st(os.path.join(directory, "model.safetensors"))
    names = sorted(k for k in header if k != "__metadata__")
    weight_map = {}
    for i in range(count):
        file, sub, blob = "model-%05d-of-%05d.safetensors" % (i + 1, count), {}, b""
        for name in names[i::count]:
            begin, end = header[name]["data_offsets"]
            sub[name] = dict(header[name], data_offsets=[len(blob), len(blob) + end - begin])
            blob += data[begin:end]
            weight_map[name] = file
        write_st(os.path.join(directory, file), sub, blob)
    os.unlink(os.path.join(directory, "model.safetensors"))
    write(os.path.join(directory, "model.safetensors.index.json"),
          json.dumps({"metadata": {"total_size": len(data)}, "weight_map": weight_map}, indent=1))


def seal(module):
    """SHA256SUMS rewritten, so that what the runtime checks is the edit."""
    sums = os.path.join(module, "SHA256SUMS")
    if not os.path.isfile(sums):  # a FIFO there must not block the setup
        return
    lines = []
    for line in open(sums, encoding="utf-8").read().splitlines():
        name = line.split(None, 1)[1].lstrip("*")
        path = os.path.join(module, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                line = "%s  %s" % (hashlib.sha256(f.read()).hexdigest(), name)
        lines.append(line)
    write(sums, "\n".join(lines) + "\n")


def link_checkpoint(paths, dst):
    """The good checkpoint, each file a link to the fixture until edited."""
    os.makedirs(dst)
    for name in os.listdir(paths["ckpt"]):
        os.symlink(os.path.join(paths["ckpt"], name), os.path.join(dst, name))


def remove(path):  # as rm -rf
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def poke(path, offset, hexbytes):
    with open(path, "r+b") as f:
        f.seek(offset, 0 if offset >= 0 else 2)
        f.write(bytes.fromhex(hexbytes))


def replace(path, old, new):
    text = open(path, encoding="utf-8").read()
    assert old in text, "%r is not in %s" % (old, path)
    write(path, text.replace(old, new, 1))


# Setup steps: [name, path, arguments...]; `paths` are the good fixtures.
OPS = {
    "ckpt": lambda paths, p: link_checkpoint(paths, p),
    "module": lambda paths, p: shutil.copytree(paths["module"], p),
    "copy": lambda paths, src, dst: (shutil.copytree if os.path.isdir(src) else shutil.copyfile)(src, dst),
    "json": lambda paths, p, keys, *v: write(p, json.dumps(edit(load_json(p), keys, *v), indent=1)),
    "replace": lambda paths, p, old, new: replace(p, old, new),
    "write": lambda paths, p, text: write(p, text_of(text)),
    "append": lambda paths, p, text: write(p, text_of(text), "a"),
    "hex": lambda paths, p, text: open(p, "wb").write(bytes.fromhex(text_of(text))),
    "truncate": lambda paths, p, n: os.truncate(p, n if n >= 0 else os.path.getsize(p) + n),
    "poke": lambda paths, p, offset, hexbytes: poke(p, offset, hexbytes),
    "mkfifo": lambda paths, p: os.mkfifo(p),
    "mkdir": lambda paths, p: os.makedirs(p, exist_ok=True),
    "symlink": lambda paths, target, p: os.symlink(target, p),
    "rm": lambda paths, p: remove(p),
    "chmod": lambda paths, p, mode: os.chmod(p, int(mode, 8)),
    "st-header": lambda paths, p, keys, *v: st_edit(p, lambda h, d: (edit(h, keys, *v), d)),
    "st-raw-header": lambda paths, p, text: st_edit(p, lambda h, d: (None, d, text_of(text))),
    "st-length": lambda paths, p, n: poke(p, 0, struct.pack("<Q", n).hex()),
    "st-add": lambda paths, p, *a: st_edit(p, lambda h, d: st_add(h, d, *a)),
    "st-poke": lambda paths, p, *a: st_edit(p, lambda h, d: st_poke(h, d, *a)),
    "shard": lambda paths, p, n: shard(p, n),
}
READ_ONLY = {"ckpt", "module", "copy", "mkfifo", "mkdir", "symlink", "rm", "shard"}


def setup(case, tmp, paths):
    for op, *a in subst(case["setup"], dict(paths, tmp=tmp)):
        if op not in READ_ONLY and os.path.islink(a[0]):  # edit a copy, not the fixture
            target = os.path.realpath(a[0])
            os.unlink(a[0])
            shutil.copyfile(target, a[0])
        OPS[op](paths, *a)
    if not case.get("unsealed"):
        for op, *a in case["setup"]:
            if op == "module":
                seal(subst(a[0], dict(paths, tmp=tmp)))


def subst(value, names):
    """{name} placeholders replaced in every string of a value."""
    if isinstance(value, str):
        for key, text in names.items():
            value = value.replace("{" + key + "}", text)
        return value
    if isinstance(value, list):
        return [subst(v, names) for v in value]
    if isinstance(value, dict):
        return {k: subst(v, names) for k, v in value.items()}
    return value


def rows_of(entry):
    if "each" in entry:
        return entry["each"]
    cross = entry.get("cross", {})
    # A dict among a variable's values sets several variables at once.
    return [{k: v for name, value in zip(cross, values)
             for k, v in (value if isinstance(value, dict) else {name: value}).items()}
            for values in itertools.product(*cross.values())]


def expand(entry, cls):
    """One case per row of `each` or of the `cross` product, its variables
    filled in; a row may also set argv, expect or more setup steps."""
    cases = []
    for row in rows_of(entry):
        def fill(value, regex):
            if isinstance(value, str):
                whole = re.fullmatch(r"\{(\w+)\}", value)
                if whole and not regex and not isinstance(row.get(whole[1], ""), str):
                    return row[whole[1]]  # "{v}" alone: the variable's JSON value
                for _ in range(2):  # twice: a variable's value may name another
                    for k, v in row.items():
                        v = v if isinstance(v, str) else json.dumps(v)
                        # In a regex, {!name} is the value taken literally.
                        value = value.replace("{!" + k + "}", re.escape(v) if regex else v)
                        value = value.replace("{" + k + "}", v)
                return value
            if isinstance(value, list):
                return [fill(v, regex) for v in value]
            return value
        case = dict(entry, **{k: row[k] for k in ("argv", "expect", "timeout") if k in row})
        case = {k: fill(v, k == "expect") for k, v in case.items() if k not in ("each", "cross")}
        case["setup"] = case.get("setup", []) + fill(row.get("setup", []), False)
        case["class"] = cls
        case["id"] = re.sub(r"[^A-Za-z0-9_.+-]", "_", case["id"])
        cases.append(case)
    return cases


def load_cases(tables):
    cases = []
    for table in tables:
        doc = load_json(table)
        defaults = doc.get("defaults", {})
        for entry in doc["cases"]:
            # The table's defaults fill gaps; their setup steps come first.
            merged = dict(defaults, **entry)
            merged["setup"] = defaults.get("setup", []) + entry.get("setup", [])
            cases += expand(merged, os.path.splitext(os.path.basename(table))[0])
    return cases


def classify(rc, output, case):
    if rc is None:
        return "hang"
    if rc < 0 or rc >= 128 or CRASH_TEXT.search(output):
        return "crash"
    if rc == 0:
        return "silent-accept"
    return "pass" if re.search(case["expect"], output, re.M) else "unnamed-error"


def run_case(case, work, paths, timeout):
    tmp = os.path.join(work, case["class"], case["id"])
    os.makedirs(tmp)
    argv = []
    for a in subst(case["argv"], dict(paths, tmp=tmp)):  # a list: several arguments
        argv += [x if isinstance(x, str) else json.dumps(x) for x in (a if isinstance(a, list) else [a])]
    tool = os.path.join(paths["bin"], argv[0])
    argv = [tool if os.path.exists(tool) else argv[0]] + argv[1:]
    if case.get("unprivileged") and os.geteuid() == 0:
        if not shutil.which("setpriv"):
            return "skipped", argv, None, "root, and no setpriv to drop it"
        for d in (work, os.path.dirname(tmp), tmp):
            os.chmod(d, 0o755)
        argv = NOBODY + argv
    try:
        setup(case, tmp, paths)
    except Exception as e:  # a broken case table is the suite's own bug
        return "unnamed-error", argv, None, "setup failed: %r" % e
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp)
    try:
        out, rc = proc.communicate(timeout=case.get("timeout", timeout))[0], proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, rc = proc.communicate()[0], None
    output = out.decode("utf-8", "replace")
    outcome = classify(rc, output, case)
    if outcome == "pass":  # keep only what a failure needs looking at
        for root, dirs, _ in os.walk(tmp):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
        shutil.rmtree(tmp, ignore_errors=True)
    return outcome, argv, rc, output


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("bin", "module", "checkpoint", "configs", "images"):
        p.add_argument("--" + name, required=True)
    p.add_argument("--work", help="scratch directory (default: a temporary one)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--filter", default="", help="only CLASS/ID matching this regex")
    p.add_argument("--list", action="store_true", help="print the cases and stop")
    p.add_argument("-v", "--verbose", action="store_true", help="show passing cases too")
    p.add_argument("tables", nargs="*")
    args = p.parse_args()
    paths = {k: os.path.abspath(getattr(args, n)) for k, n in
             (("bin", "bin"), ("module", "module"), ("ckpt", "checkpoint"),
              ("configs", "configs"), ("images", "images"))}
    paths["config"] = os.path.join(paths["configs"], "tiny", "config.json")
    cases = load_cases(args.tables or sorted(
        os.path.join(HERE, "cases", f) for f in os.listdir(os.path.join(HERE, "cases"))
        if f.endswith(".json")))
    names = collections.Counter("%s/%s" % (c["class"], c["id"]) for c in cases)
    if max(names.values(), default=1) > 1:
        sys.exit("run.py: cases named twice: %s" % [n for n, k in names.items() if k > 1])
    cases = [c for c in cases if re.search(args.filter, "%s/%s" % (c["class"], c["id"]))]
    if args.list:
        print("\n".join("%s/%s" % (c["class"], c["id"]) for c in cases))
        return 0
    if args.work:
        shutil.rmtree(args.work, ignore_errors=True)
        os.makedirs(args.work)
    work = args.work or tempfile.mkdtemp(prefix="dgc-bad-input-")
    start = time.monotonic()
    counts = collections.defaultdict(collections.Counter)
    reports = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        jobs = {pool.submit(run_case, c, work, paths, args.timeout): c for c in cases}
        for job in concurrent.futures.as_completed(jobs):
            case = jobs[job]
            outcome, argv, rc, output = job.result()
            counts[case["class"]][outcome] += 1
            if outcome in ("pass", "skipped") and not args.verbose:
                continue
            lines = [line[:300] for line in output.strip().splitlines()[-8:]]
            reports.append("%s: %s/%s\n  $ %s\n  exit %s; expected /%s/; got:\n    %s" % (
                outcome.upper(), case["class"], case["id"],
                shlex.join(argv).replace(work + "/", ""), rc, case["expect"], "\n    ".join(lines)))
    counts["total"] = sum(counts.values(), collections.Counter())
    print("\n".join(sorted(reports)) + "\n\n%-12s" % "class" + "".join("%14s" % o for o in OUTCOMES))
    for cls in sorted(counts, key=lambda c: (c == "total", c)):
        print("%-12s" % cls + "".join("%14d" % counts[cls][o] for o in OUTCOMES))
    print("%d cases in %.1f s" % (len(cases), time.monotonic() - start))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if counts["total"]["pass"] + counts["total"]["skipped"] < len(cases) else 0


if __name__ == "__main__":
    sys.exit(main())
