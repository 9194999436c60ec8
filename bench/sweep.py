"""Re-measures the data behind chapter 6's figures: chapters/ch06-fused/data/bench.json.

Usage (from the repository root, on an otherwise idle machine; about 25 minutes on 2 cores):

    cargo build --release && python3 bench/sweep.py [--only NAME,...]

Each run is one `rnnbook bench --json --pytorch` invocation (so PyTorch and numpy must be
installed: `pip install torch numpy`); PyTorch runs inside the same interleaved rounds. The file
records the commands, the machine (with the ceilings `rnnbook bench` measured and what PyTorch
said of itself) and the versions. `--only` reruns some runs and keeps the others from the
existing file. The book build only reads the file.
"""

import datetime
import json
import os
import platform
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "rnnbook")
OUT = os.path.join(ROOT, "chapters", "ch06-fused", "data", "bench.json")

RUNS = [
    ("lstm-default", ["--cell", "lstm", "--threads", "1,2", "--repeats", "15"]),
    ("gru-default", ["--cell", "gru", "--threads", "1,2", "--repeats", "15"]),
    ("lstm-grid", ["--sweep", "--cell", "lstm", "--repeats", "5"]),
    ("gru-grid", ["--sweep", "--cell", "gru", "--repeats", "5"]),
]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return [x for x in ("avx2", "fma", "avx512f") if x in flags]
    except OSError:
        pass
    return []


def write_json_atomic(path, data, indent):
    """Writes `data` as JSON to `path` through a temporary file renamed over it: a kill leaves
    the old file or the new one, never half of one."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=indent)
        f.write("\n")
    os.replace(tmp, path)


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    only = None
    if len(sys.argv) == 3 and sys.argv[1] == "--only":
        only = sys.argv[2].split(",")
    elif len(sys.argv) != 1:
        sys.exit(__doc__)
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} not found: run `cargo build --release` first")
    old = {}
    if only is not None:
        with open(OUT) as f:
            old = {r["name"]: r for r in json.load(f)["runs"]}
    runs, machine = [], None
    # What PyTorch said of the cells of the runs kept from the existing file.
    kept_cells = []
    if only is not None:
        with open(OUT) as f:
            kept_cells = json.load(f)["machine"]["torch_cells"]
    for k, (name, args) in enumerate(RUNS):
        if only is not None and name not in only:
            runs.append(old[name])
            continue
        cmd = [BIN, "bench", "--json", "--pytorch"] + args
        print(f"[{k + 1}/{len(RUNS)}] {name}: {' '.join(cmd[1:])}", file=sys.stderr)
        out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        if out.returncode != 0:
            sys.exit(f"{name} failed")
        report = json.loads(out.stdout)
        machine = machine or report["machine"]
        for c in report["machine"]["torch_cells"]:
            if all(c["cell"] != m["cell"] for m in machine["torch_cells"]):
                machine["torch_cells"].append(c)
        runs.append({"name": name, "command": "rnnbook " + " ".join(cmd[1:]), "rows": report["rows"]})
    kept = {r["rows"][0]["cell"] for r in runs if r["name"] not in (only or [r["name"]])}
    for c in kept_cells:
        if c["cell"] in kept and all(c["cell"] != m["cell"] for m in machine["torch_cells"]):
            machine["torch_cells"].append(c)
    torch_version = version([sys.executable, "-c", "import torch; print(torch.__version__)"])
    data = {
        "machine": {
            "cpu": cpu_model(),
            "logical_cpus": os.cpu_count(),
            "simd": cpu_flags(),
            "rustc": version(["rustc", "--version"]),
            "torch": torch_version,
            "date": datetime.date.today().isoformat(),
            "commit": version(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
            "ceilings": machine["ceilings"],
            "torch_cells": machine["torch_cells"],
        },
        "runs": runs,
    }
    write_json_atomic(OUT, data, indent=1)
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
