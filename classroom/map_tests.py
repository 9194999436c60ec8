"""Finds which tests each exercise's solution makes pass, to fill `tests` in exercises.toml.

Usage (from the repository root, after `cargo build --release`):

    python3 classroom/map_tests.py > /tmp/tests.toml

For every exercise it writes a copy of the tree in which only that exercise is a `todo!`
(`rnnbook student-edition --only ID`), runs every chapter package's tests there, and records
which fail. A test that fails when exercise X alone is missing depends on X; it is assigned to the
highest-numbered exercise it depends on (earlier ones are its prerequisites). The output is one
`tests = [...]` list per exercise; names from another package than the exercise's are written
`package/name`. About a minute per exercise on 2 cores.
"""

import os
import re
import subprocess
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "rnnbook")
WORK = os.environ.get("RNNBOOK_MAP_DIR", "/tmp/rnnbook-map")
TARGET = os.path.join(ROOT, "target")


def packages():
    return sorted(p for p in os.listdir(os.path.join(ROOT, "chapters")) if p.startswith("ch"))


def failing(tree):
    """{package: set(test names that fail)} for every chapter package of `tree`."""
    out = {}
    for pkg in packages():
        r = subprocess.run(
            ["cargo", "test", "--offline", "--no-fail-fast", "-p", pkg],
            cwd=tree, capture_output=True, text=True,
            env={**os.environ, "CARGO_TARGET_DIR": TARGET, "RUST_BACKTRACE": "0"},
        )
        out[pkg] = set(re.findall(r"^test (\S+)(?: - should panic)? \.\.\. FAILED", r.stdout, re.M))
        if "error[" in r.stderr and not out[pkg]:
            sys.exit(f"{pkg} does not compile in {tree}:\n{r.stderr[-3000:]}")
    return out


def main():
    with open(os.path.join(ROOT, "classroom", "exercises.toml"), "rb") as f:
        config = tomllib.load(f)
    exercises = config["exercise"]
    key = lambda ex_id: tuple(int(p) for p in ex_id.split("."))
    depends = {}  # (pkg, test) -> set of exercise ids
    for k, ex in enumerate(exercises):
        tree = os.path.join(WORK, "tree")
        print(f"[{k + 1}/{len(exercises)}] ex {ex['id']}", file=sys.stderr)
        subprocess.run([BIN, "student-edition", tree, "--force", "--only", ex["id"]],
                       check=True, capture_output=True)
        for pkg, tests in failing(tree).items():
            for t in tests:
                depends.setdefault((pkg, t), set()).add(ex["id"])
    assigned = {ex["id"]: [] for ex in exercises}
    pkg_of = {ex["id"]: ex["package"] for ex in exercises}
    for (pkg, t), ids in sorted(depends.items()):
        owner = max(ids, key=key)
        assigned[owner].append(t if pkg == pkg_of[owner] else f"{pkg}/{t}")
    for ex in exercises:
        print(f"# ex {ex['id']}")
        print("tests = [")
        for t in assigned[ex["id"]]:
            print(f'    "{t}",')
        print("]")


if __name__ == "__main__":
    main()
