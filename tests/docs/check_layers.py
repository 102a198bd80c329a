#!/usr/bin/env python3
"""The module table of docs/design.md ("Modules and their dependencies") is the real graph.

1. Each module's glm_* links in CMakeLists.txt are the modules the table lists for it
   (kernels/cuda/, glm_cuda, counts as part of kernels/).
2. Every #include "dir/file.h" of a module's sources names the module itself or one it
   reaches through the table's arrows.
Usage: check_layers.py SOURCE_DIR
"""
import os
import re
import sys

ROW = re.compile(r"^(\S+/)\s+(glm[-_]\S+)(?: programs)?\s+->\s+(.*)$")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def read_table(root):
    text = open(os.path.join(root, "docs/design.md"), encoding="utf-8").read()
    block = text.split("## Modules and their dependencies", 1)[1].split("```")[1]
    rows = {}
    for line in block.strip().splitlines():
        m = ROW.match(line)
        if not m:
            sys.exit(f"docs/design.md: module table row not understood: {line!r}")
        rows[m.group(1)] = (m.group(2), m.group(3))
    name = {d: d.rstrip("/").split("/")[-1] for d in rows}
    by_name = {v: k for k, v in name.items()}
    deps = {}
    for d, (_, text) in rows.items():
        words = re.findall(r"[a-z]+", text)
        deps[d] = {by_name[w] for w in words if w in by_name and by_name[w] != d}
    return rows, deps


def cmake_links(root):
    text = open(os.path.join(root, "CMakeLists.txt"), encoding="utf-8").read()
    links = {}
    for target, body in re.findall(r"target_link_libraries\((\S+)\s([^)]*)\)", text):
        program = target == "${app}" or target.startswith("glm-")  # the programs: one module
        links.setdefault("glm-*" if program else target, set()).update(
            re.findall(r"\bglm_\w+", body))
    return links


def module_of(path, dirs):
    best = None
    for d in dirs:
        if path.startswith(d) and (best is None or len(d) > len(best)):
            best = d
    return best


def main(root):
    rows, deps = read_table(root)
    problems = []
    lib_dir = {lib: d for d, (lib, _) in rows.items()}
    links = cmake_links(root)
    for d, (lib, _) in rows.items():
        declared = {lib_dir[l] for l in links.get(lib, set()) if l in lib_dir}
        if declared != deps[d]:
            problems.append(f"{d}: table says {sorted(deps[d])}, CMakeLists.txt links "
                            f"{sorted(declared)}")
    reach = {}
    for d in rows:
        seen, todo = {d}, [d]
        while todo:
            for n in deps[todo.pop()]:
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        reach[d] = seen
    for d in rows:
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for f in files:
                if not f.endswith((".h", ".cpp", ".cu", ".cuh")):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, f), root)
                if module_of(rel, rows) != d:
                    continue
                for inc in INCLUDE.findall(open(os.path.join(root, rel), encoding="utf-8").read()):
                    target = module_of("src/" + inc, rows) or module_of(inc, rows)
                    if target and target not in reach[d]:
                        problems.append(f"{rel}: includes {inc} ({target}), which {d} does "
                                        "not depend on")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
