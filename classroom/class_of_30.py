"""Measures `rnnbook grade` on a class: N different submissions, graded from a cold work folder.

Usage (from the repository root, after `cargo build --release`):

    python3 classroom/class_of_30.py            # 30 submissions, --jobs 2
    python3 classroom/class_of_30.py --n 10 --jobs 1

Student k's copy differs from every other student's in every region: each region is either the
instructor's solution or the edition's `todo!`, chosen by (k, exercise), after a line of the
student's own (`let _student = k;`), so that every chapter is rebuilt for every student, as for a
real class. The work folder starts empty, so the time includes compiling the dependencies.
Writes classroom/scale-report.json (the machine, the command, the times, every student's score),
which tests/grading_scale.rs checks.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "rnnbook")
REPORT = os.path.join(ROOT, "classroom", "scale-report.json")
sys.path.insert(0, os.path.join(ROOT, "bench"))
from sweep import cpu_flags, cpu_model, write_json_atomic  # noqa: E402  (shared with the benchmark)
BEGIN = "// BEGIN SOLUTION ex "
END = "// END SOLUTION"


def regions(text):
    """[(id, begin line, end line)] of the solution regions of a file."""
    out, lines = [], text.split("\n")
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith(BEGIN):
            rid = s[len(BEGIN):].split(":")[0].strip()
            j = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == END)
            out.append((rid, i, j))
    return out


def student_file(text, k, solved):
    lines = text.split("\n")
    out, last = [], 0
    for rid, b, e in regions(text):
        indent = lines[b][: len(lines[b]) - len(lines[b].lstrip())]
        out += lines[last : b + 1]
        out.append(f"{indent}let _student = {k};")
        if solved(rid):
            out += lines[b + 1 : e]
        else:
            out.append(f'{indent}todo!("ex {rid}")')
        last = e
    out += lines[last:]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", help="keep the submissions and work folder here")
    a = ap.parse_args()
    config = tomllib.load(open(os.path.join(ROOT, "classroom", "exercises.toml"), "rb"))
    exercises = config["exercise"]
    files = sorted({e["file"] for e in exercises})
    base = a.keep or tempfile.mkdtemp(prefix="rnnbook-class-")
    subs, work = os.path.join(base, "submissions"), os.path.join(base, "work")
    for d in (subs, work):
        shutil.rmtree(d, ignore_errors=True)
    expected = {}
    for k in range(a.n):
        # Student k solves exercise i unless (k + i) % 5 == 0 (or all of them, for k = 0).
        solved_ids = {e["id"] for i, e in enumerate(exercises) if k == 0 or (k + i) % 5 != 0}
        name = f"student-{k:02}"
        expected[name] = sorted(solved_ids)
        for f in files:
            text = open(os.path.join(ROOT, f)).read()
            dst = os.path.join(subs, name, f)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            open(dst, "w").write(student_file(text, k, lambda rid: rid in solved_ids))
    out = os.path.join(base, "grades.csv")
    cmd = [BIN, "grade", subs, "--out", out, "--jobs", str(a.jobs), "--work-dir", work]
    print("running:", " ".join(cmd), file=sys.stderr)
    start = time.monotonic()
    r = subprocess.run(cmd)
    seconds = time.monotonic() - start
    if r.returncode != 0:
        sys.exit(f"rnnbook grade failed with {r.returncode}")
    rows = json.load(open(os.path.splitext(out)[0] + ".json"))
    students = {}
    for row in rows:
        s = students.setdefault(row["student"], {"points": 0.0, "full": []})
        s["points"] += row["points"]
        if row["passed"] == row["total"]:
            s["full"].append(row["exercise"])
    report = {
        "what": "rnnbook grade on a class of different submissions, from an empty work folder",
        "command": " ".join(["rnnbook", "grade", "SUBMISSIONS", "--jobs", str(a.jobs),
                             "--work-dir", "EMPTY"]),
        "machine": {
            "cpu": cpu_model(),
            "avx512f": "avx512f" in cpu_flags(),
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
        },
        "date": time.strftime("%Y-%m-%d"),
        "submissions": a.n,
        "jobs": a.jobs,
        "seconds": round(seconds, 1),
        "seconds_per_submission": round(seconds / a.n, 1),
        "students": {
            name: {
                "points": round(s["points"], 2),
                "full_marks_on": sorted(s["full"]),
                "solved": expected[name],
            }
            for name, s in sorted(students.items())
        },
    }
    write_json_atomic(REPORT, report, indent=1)
    print(f"{a.n} submissions in {seconds:.0f} s ({seconds / a.n:.1f} s each): {REPORT}")
    if not a.keep:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
