#!/usr/bin/env python3
"""What the GPU check's archive holds, and whether it runs on a machine that
has only the C and C++ runtimes (scripts/gpu-prepare.sh packs it).

    gpu-archive.py list BUILD         the files and folders to pack
    gpu-archive.py carry BUILD DEST   copies the carried libraries into DEST
    gpu-archive.py check BUILD        every ELF file packed needs only glibc,
                                      libstdc++, libgcc_s, libm and the
                                      libraries carried; exit 1 naming others
    gpu-archive.py symbols MODULE.so... [--runtime LIB]
                                      a module's undefined symbols all come
                                      from libc, libm, libgcc_s or the runtime

The machine that runs the check has another distribution's libraries: only
the C and C++ runtimes can be assumed, so the image decoders' libraries
travel with the archive. The tools that link LLVM (dgc, dgc-opt) and the
server (dgc-serve) stay here.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

# Present on any glibc system with a C++ runtime.
ALLOWED = {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1",
           "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libstdc++.so.6", "libgcc_s.so.1"}
# Carried beside the runtime (the image decoders and what they need).
CARRIED = {"libjpeg.so.62", "libpng16.so.16", "libz.so.1"}
# Compiled here, run only here (they link LLVM).
LLVM_TOOLS = {"dgc", "dgc-opt"}
# Not part of the GPU check: the server links cpp-httplib, and through it
# OpenSSL, zlib and brotli, which the archive would have to carry.
SERVER_TOOLS = {"dgc-serve"}
# Where the carried libraries land in the archive.
CARRIED_DIR = "gpu/lib"


def is_standin(path):
    """The stand-in driver and its tests, for machines without a GPU."""
    return "standin" in path.name


def modules(build):
    gpu = build / "gpu"
    found = sorted((build / "test" / "e2e").glob("*.dgm"))
    found += sorted(gpu.glob("diffusiongemma-26b-a4b-*.dgm")) if gpu.is_dir() else []
    return found


def packed(build):
    """The archive's files and folders (those present)."""
    tools = sorted(p for p in (build / "bin").iterdir()
                   if p.is_file() and p.name not in LLVM_TOOLS | SERVER_TOOLS
                   and not is_standin(p))
    libs = sorted(p for p in (build / "lib").glob("*.so") if not is_standin(p))
    carried = build / CARRIED_DIR
    return tools + libs + modules(build) + ([carried] if carried.is_dir() else [])


def is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def elf_files(paths):
    for p in paths:
        if p.is_dir():
            yield from (f for f in sorted(p.rglob("*")) if f.is_file() and is_elf(f))
        elif is_elf(p):
            yield p


def needed(path):
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return [line.split("[", 1)[1].split("]", 1)[0]
            for line in out.splitlines() if "(NEEDED)" in line]


def resolve(name):
    """Where this machine's loader finds library `name`."""
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.strip().split(" => ")
        if len(parts) == 2 and parts[0].split(" ")[0] == name:
            return Path(parts[1])
    return None


def carry(build, dest):
    dest.mkdir(parents=True, exist_ok=True)
    for name in sorted(CARRIED):
        where = resolve(name)
        if not where:
            sys.exit(f"gpu-archive: {name} is not installed here (see scripts/setup.sh)")
        shutil.copy2(os.path.realpath(where), dest / name)


def check(build):
    own = {p.name for p in (build / "lib").glob("*.so")}
    problems = []
    for f in elf_files(packed(build)):
        for lib in needed(f):
            if lib not in ALLOWED and lib not in CARRIED and lib not in own:
                problems.append(f"{f}: needs {lib}, which the archive does not carry")
    # The carried libraries' own needs, read from this machine's copies.
    for name in sorted(CARRIED):
        where = resolve(name)
        if not where:
            problems.append(f"{name}: not installed here, so it cannot be carried")
            continue
        for lib in needed(where):
            if lib not in ALLOWED and lib not in CARRIED:
                problems.append(f"{name} (carried): needs {lib}, which the archive does not carry")
    for p in problems:
        print(p)
    print(f"gpu-archive: {len(problems)} libraries missing from the archive")
    return 1 if problems else 0


def dynamic_symbols(path, defined):
    flag = "--defined-only" if defined else "--undefined-only"
    out = subprocess.run(["nm", "-D", flag, str(path)], capture_output=True, text=True,
                         check=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if parts and (not defined or len(parts) == 3):
            # Weak undefined symbols ("w") may stay unresolved.
            if not defined and parts[0] == "w":
                continue
            names.add(parts[-1].split("@")[0])
    return names


def symbols(args):
    runtime = None
    if "--runtime" in args:
        i = args.index("--runtime")
        runtime = args[i + 1]
        args = args[:i] + args[i + 2:]
    provided = set()
    for lib in ["libc.so.6", "libm.so.6", "libgcc_s.so.1"]:
        where = resolve(lib)
        if where:
            provided |= dynamic_symbols(where, True)
    if runtime:
        provided |= dynamic_symbols(runtime, True)
    failed = 0
    for module in args:
        missing = sorted(dynamic_symbols(module, False) - provided)
        if missing:
            failed = 1
            print(f"{module}: undefined {', '.join(missing)}")
        else:
            print(f"{module}: every symbol resolves")
    return failed


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("list", "carry", "check", "symbols"):
        sys.exit(__doc__)
    verb = sys.argv[1]
    if verb == "symbols":
        return symbols(sys.argv[2:])
    build = Path(sys.argv[2])
    if verb == "list":
        for p in packed(build):
            print(p)
    elif verb == "carry":
        carry(build, Path(sys.argv[3]) if len(sys.argv) > 3 else build / CARRIED_DIR)
    else:
        return check(build)
    return 0


if __name__ == "__main__":
    sys.exit(main())
