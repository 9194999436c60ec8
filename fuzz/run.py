#!/usr/bin/env python3
"""Runs every fuzz target for a stated time and writes fuzz/report.json (issue 17).

    python3 fuzz/run.py [--seconds 600] [--jobs 2] [--only fixture,regions]

Needs a nightly toolchain and cargo-fuzz (`rustup toolchain install nightly`,
`cargo install cargo-fuzz`). Each target starts from seed inputs taken from the files the
project commits (fixtures, the benchmark data, study records, the classroom configuration,
chapter sources) plus a checkpoint written by a two-step `rnnbook train rnn` and a file written
by a tiny `rnnbook bench --out`, and runs under
libFuzzer's limits: at most --seconds, 2048 MB of memory (-rss_limit_mb, which also bounds a
single allocation: -malloc_limit_mb), 10 s per input (-timeout), inputs up to 256 KB
(-max_len). A crash, abort, out-of-memory or hang stops the target; its input is left in
fuzz/artifacts/<target>/ and the report names it. The tests (tests/hostile_inputs.rs) check
the committed report; the inputs that broke something are kept in fuzz/regressions/<target>/,
which `cargo test` runs.
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "bench"))
from sweep import cpu_flags, cpu_model, write_json_atomic  # noqa: E402  (shared with the benchmark)

TARGETS = ["fixture", "checkpoint", "study_record", "bench_data", "bench_out", "exercises_toml",
           "regions"]
LIMITS = {"rss_limit_mb": 2048, "malloc_limit_mb": 2048, "timeout": 10, "max_len": 262144}


def committed(*globs):
    out = subprocess.run(["git", "ls-files", *globs], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    return [os.path.join(ROOT, p) for p in out]


def seeds(target, scratch):
    if target == "fixture":
        return committed("tests/fixtures/*.json")
    if target == "study_record":
        return committed("chapters/ch07-experiments/data/runs/*.json")[:40]
    if target == "bench_data":
        return committed("chapters/ch06-fused/data/*.json")
    if target == "exercises_toml":
        return committed("classroom/exercises.toml")
    if target == "regions":
        return committed("chapters/*/src/*.rs")
    if target == "checkpoint":
        text = os.path.join(scratch, "text.txt")
        with open(text, "w") as f:
            f.write("the cat sat on the mat. " * 40)
        path = os.path.join(scratch, "checkpoint.json")
        subprocess.run(["cargo", "run", "--release", "-q", "--", "train", "rnn", "--text", text,
                        "--hidden", "4", "--seq-len", "5", "--batch", "2", "--steps", "2",
                        "--sample-every", "0", "--sample-len", "5", "--checkpoint", path],
                       cwd=ROOT, check=True, capture_output=True)
        return [path]
    if target == "bench_out":
        path = os.path.join(scratch, "bench-out.json")
        subprocess.run(["cargo", "run", "--release", "-q", "--", "bench", "--out", path,
                        "--cell", "lstm,gru", "--seq-len", "2", "--batch", "1,2", "--input", "4",
                        "--hidden", "4", "--only", "v1", "--repeats", "1"],
                       cwd=ROOT, check=True, capture_output=True)
        return [path]
    raise SystemExit(f"unknown target {target}")


def run(target, seconds, scratch):
    corpus = os.path.join(HERE, "corpus", target)
    os.makedirs(corpus, exist_ok=True)
    for i, s in enumerate(seeds(target, scratch)):
        shutil.copy(s, os.path.join(corpus, f"seed-{i}-{os.path.basename(s)}"))
    artifacts = os.path.join(HERE, "artifacts", target) + "/"
    os.makedirs(artifacts, exist_ok=True)
    flags = [f"-{k}={v}" for k, v in LIMITS.items()]
    cmd = ["cargo", "+nightly", "fuzz", "run", "-s", "none", target, corpus, "--",
           f"-max_total_time={seconds}", f"-artifact_prefix={artifacts}", "-print_final_stats=1",
           *flags]
    start = time.time()
    p = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True)
    took = time.time() - start
    log = p.stderr
    with open(os.path.join(HERE, "artifacts", f"{target}.log"), "w") as f:
        f.write(log[-200000:])
    runs = re.findall(r"Done (\d+) runs in (\d+) second", log)
    crashes = sorted(os.listdir(artifacts))
    return {
        "target": target,
        "seconds": round(took, 1),
        "runs": int(runs[-1][0]) if runs else 0,
        "exit_code": p.returncode,
        "failures": crashes,
        "corpus_inputs": len(os.listdir(corpus)),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", default=",".join(TARGETS))
    a = ap.parse_args()
    targets = a.only.split(",")
    for t in targets:
        if t not in TARGETS:
            raise SystemExit(f"--only: unknown target {t} (of {', '.join(TARGETS)})")
    subprocess.run(["cargo", "+nightly", "fuzz", "build", "-s", "none"], cwd=HERE, check=True)
    report_path = os.path.join(HERE, "report.json")
    old = {}
    if os.path.exists(report_path):
        with open(report_path) as f:
            old = {r["target"]: r for r in json.load(f)["targets"]}
    with tempfile.TemporaryDirectory() as scratch:
        with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
            futures = {ex.submit(run, t, a.seconds, scratch): t for t in targets}
            for fut in concurrent.futures.as_completed(futures):
                r = fut.result()
                old[r["target"]] = r
                print(f"{r['target']}: {r['runs']} runs in {r['seconds']} s, exit {r['exit_code']}, "
                      f"failures: {r['failures'] or 'none'}", file=sys.stderr)
    report = {
        "what": "each fuzz target run under libFuzzer (cargo fuzz, no sanitizer) for the time "
                "stated, from seeds taken from committed files",
        "command": "python3 fuzz/run.py " + " ".join(sys.argv[1:]),
        "date": datetime.date.today().isoformat(),
        "machine": {"cpu": cpu_model(), "simd": cpu_flags(), "cpus": os.cpu_count(),
                    "kernel": platform.release()},
        "jobs": a.jobs,
        "limits": LIMITS,
        "targets": [old[t] for t in TARGETS if t in old],
    }
    write_json_atomic(report_path, report, indent=2)
    print(f"wrote {report_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
