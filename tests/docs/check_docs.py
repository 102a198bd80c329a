#!/usr/bin/env python3
"""README.md and docs/*.md stay true to the tree they describe.

1. Every relative link ([text](path) or [text](path#anchor) or [text](#anchor)) resolves:
   the file or directory exists, and an anchor names a heading of the target file (GitHub's
   slug rule: lower case, punctuation dropped, spaces to hyphens).
2. Every `build/bin/PROGRAM` command in the README's quickstart section ("## The two
   commands") runs with --help and exits 0, and so does every launch/*.py named there.
3. The README's layout tour ("## Where things are") matches the tree: every folder it
   names exists, and every top-level folder of the repository and every folder of src/
   is named.
4. The repository stands alone: no tracked file cites a design or style document outside
   it (DESIGN.md, STYLE.md, GPU-NOTES.md) or a path of the machine it was written on.
Usage: check_docs.py SOURCE_DIR BUILD_DIR
"""
import glob
import os
import re
import subprocess
import sys

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")


def prose_lines(text):
    """Lines outside fenced code blocks (links in code are not links)."""
    inside = False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            inside = not inside
            continue
        if not inside:
            yield line


def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)  # drops punctuation and backticks, keeps letters, digits, _ -
    return s.replace(" ", "-")


def anchors(path):
    out = set()
    for line in prose_lines(open(path, encoding="utf-8").read()):
        m = re.match(r"^#{1,6}\s+(.*)$", line)
        if m:
            out.add(slug(m.group(1)))
    return out


def check_links(files):
    problems = []
    for f in files:
        for n, line in enumerate(prose_lines(open(f, encoding="utf-8").read()), 1):
            for target in LINK.findall(line):
                if re.match(r"^[a-z]+:", target):
                    continue  # http:, https:, mailto:
                path, _, anchor = target.partition("#")
                dest = os.path.normpath(os.path.join(os.path.dirname(f), path)) if path else f
                if not os.path.exists(dest):
                    problems.append(f"{f}: link to {target}: {dest} does not exist")
                elif anchor and (not dest.endswith(".md") or anchor not in anchors(dest)):
                    problems.append(f"{f}: link to {target}: no heading '#{anchor}' in {dest}")
    return problems


def readme_section(readme, heading):
    """The text under `## heading` of the README, up to the next `## ` heading."""
    text = open(readme, encoding="utf-8").read()
    m = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if not m:
        raise SystemExit(f"{readme}: no '## {heading}' section")
    return m.group(1)


def check_commands(readme, source_dir, build_dir):
    section = readme_section(readme, "The two commands")
    programs = sorted(set(re.findall(r"(?<![\w/])build/bin/([\w\-]+)", section)))
    scripts = sorted(set(re.findall(r"(?<![\w/])(launch/[\w\-]+\.py)", section)))
    if not programs:
        return [f"{readme}: the quickstart section names no build/bin/ command"], 0
    problems = []
    commands = [[os.path.join(build_dir, "bin", p), "--help"] for p in programs]
    commands += [[sys.executable, os.path.join(source_dir, s), "--help"] for s in scripts]
    for cmd in commands:
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except OSError as e:
            problems.append(f"{readme}: {' '.join(cmd)}: {e}")
            continue
        if r.returncode != 0 or not r.stdout.strip():
            problems.append(f"{readme}: {' '.join(cmd)} exited {r.returncode}: {r.stderr[-300:]}")
    return problems, len(commands)


def tracked_files(source_dir):
    """The repository's files (git's list where there is one, else a walk without build/)."""
    try:
        out = subprocess.run(["git", "-C", source_dir, "ls-files"], capture_output=True,
                             text=True, timeout=60, check=True).stdout.split()
        if out:
            return out
    except (OSError, subprocess.SubprocessError):
        pass
    files = []
    for root, dirs, names in os.walk(source_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".") and not d.startswith("build")
                   and d not in ("data_out", "__pycache__")]
        files += [os.path.relpath(os.path.join(root, n), source_dir) for n in names]
    return files


def check_tour(readme, source_dir, files):
    block = readme_section(readme, "Where things are").split("```")[1]
    named = [line.split()[0].rstrip("/") for line in block.splitlines() if line.strip()]
    problems = [f"{readme}: the layout tour names {d}/, which does not exist"
                for d in named if not os.path.isdir(os.path.join(source_dir, d))]
    folders = set()
    for f in files:
        parts = f.split("/")
        if len(parts) > 1 and not parts[0].startswith("."):
            folders.add(parts[0])
            if parts[0] == "src" and len(parts) > 2:
                folders.add("src/" + parts[1])
    folders.discard("src")  # named through its sub-folders
    problems += [f"{readme}: the layout tour does not name {d}/" for d in sorted(folders)
                 if d not in named]
    return problems


OUTSIDE = re.compile(r"(?<![\w/.])(DESIGN\.md|STYLE\.md|GPU-NOTES\.md)|\.\./shared/|/work/")


def check_stands_alone(source_dir, files):
    problems = []
    for f in files:
        if f.startswith("tests/docs/check_docs.py"):
            continue  # names the patterns it looks for
        try:
            text = open(os.path.join(source_dir, f), encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            continue  # binary or not checked out
        for n, line in enumerate(text.splitlines(), 1):
            m = OUTSIDE.search(line)
            if m:
                problems.append(f"{f}:{n}: cites {m.group(0)}, outside the repository "
                                "(the design is docs/design.md)")
    return problems


ENV_READ = re.compile(r'getenv\("(GLM_[A-Z0-9_]+)"')


def check_environment_table(source_dir, files):
    """Every GLM_ variable the code reads is in docs/building-and-testing.md's table."""
    table = open(os.path.join(source_dir, "docs", "building-and-testing.md"),
                 encoding="utf-8").read()
    listed = set(re.findall(r"^\| `(GLM_[A-Z0-9_]+)`", table, re.MULTILINE))
    problems = []
    for f in files:
        if not f.endswith((".cpp", ".h", ".cu", ".cuh")) or f.startswith("tests/"):
            continue
        try:
            text = open(os.path.join(source_dir, f), encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            continue
        for var in ENV_READ.findall(text):
            if var not in listed:
                problems.append(f"{f}: reads {var}, which docs/building-and-testing.md's "
                                "environment table does not list")
    return problems


def main():
    source_dir, build_dir = sys.argv[1:3]
    readme = os.path.join(source_dir, "README.md")
    files = [readme] + sorted(glob.glob(os.path.join(source_dir, "docs", "*.md")))
    problems = check_links(files)
    command_problems, n = check_commands(readme, source_dir, build_dir)
    problems += command_problems
    files = tracked_files(source_dir)
    problems += check_tour(readme, source_dir, files)
    problems += check_stands_alone(source_dir, files)
    problems += check_environment_table(source_dir, files)
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print(f"ok: links resolve; {n} quickstart commands answer --help; the layout tour matches "
          f"the tree; {len(files)} files cite nothing outside the repository")


if __name__ == "__main__":
    main()
