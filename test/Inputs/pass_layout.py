"""Checks passes/README.md's naming scheme against passes/Passes.td.

Each pass `dg-<role>-<what>` (role fuse, host or gpu; none for a pass both
targets run) or `convert-dg-to-<x>` must have its def, its file in its
role's folder defining it, and its lit test test/passes/<folder>/<name>.mlir;
every lit test there must be named after a pass of its folder.

usage: pass_layout.py SOURCE_ROOT
"""
import os
import re
import sys

ROLE_FOLDERS = {"fuse": "Fusion", "host": "Host", "gpu": "Cuda"}


def camel(words):
    return "".join(w.capitalize() for w in words)


def expected(name):
    """(folder, def, file) of a pass name, or None if the name breaks the scheme."""
    m = re.fullmatch(r"convert-dg-to-([a-z0-9-]+)", name)
    if m:
        target = camel(m.group(1).split("-"))
        return f"DgTo{target}", f"ConvertDgTo{target}", f"DgTo{target}.cpp"
    m = re.fullmatch(r"dg-([a-z0-9-]+)", name)
    if not m:
        return None
    words = m.group(1).split("-")
    folder = ROLE_FOLDERS.get(words[0], "Utils")
    return folder, "Dg" + camel(words), camel(words) + ".cpp"


def main(root):
    td = open(os.path.join(root, "passes", "Passes.td")).read()
    passes = re.findall(r'def\s+(\w+)\s*:\s*Pass<"([^"]+)"', td)
    errors = []
    names_by_folder = {}
    for def_name, name in passes:
        want = expected(name)
        if want is None:
            errors.append(f"{name}: not dg-<role>-<what> nor convert-dg-to-<x>")
            continue
        folder, want_def, want_file = want
        names_by_folder.setdefault(folder, []).append(name)
        if def_name.lower() != want_def.lower():
            errors.append(f"{name}: def {def_name}, expected {want_def}")
        folder_dir = os.path.join(root, "passes", folder)
        files = os.listdir(folder_dir) if os.path.isdir(folder_dir) else []
        match = [f for f in files if f.lower() == want_file.lower()]
        if not match:
            errors.append(f"{name}: no passes/{folder}/{want_file}")
        elif f"GEN_PASS_DEF_{def_name.upper()}" not in open(
                os.path.join(folder_dir, match[0])).read():
            errors.append(f"{name}: passes/{folder}/{match[0]} does not define it")
        test = os.path.join(root, "test", "passes", folder, name + ".mlir")
        if not os.path.exists(test):
            errors.append(f"{name}: no test/passes/{folder}/{name}.mlir")
    tests_root = os.path.join(root, "test", "passes")
    for folder in sorted(os.listdir(tests_root)):
        path = os.path.join(tests_root, folder)
        if not os.path.isdir(path):
            if folder.endswith(".mlir"):
                errors.append(f"test/passes/{folder}: not in a role's folder")
            continue
        for test in sorted(os.listdir(path)):
            stem = test[:-len(".mlir")] if test.endswith(".mlir") else None
            if stem is None:
                continue
            if not any(stem == n or stem.startswith(n + "-")
                       for n in names_by_folder.get(folder, [])):
                errors.append(f"test/passes/{folder}/{test}: named after no "
                              f"pass of passes/{folder}/")
    for e in errors:
        print("error:", e)
    print(f"{len(passes)} passes, {len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
