"""Re-measures the data behind chapter 6's figures: chapters/ch06-fused/data/bench.json.

Usage (from the repository root, on an otherwise idle machine; about 10 minutes on 2 cores):

    cargo build --release && python3 bench/sweep.py

Each run is one `rnnbook bench --json --pytorch` invocation (so PyTorch must be installed:
`pip install torch`); the file records the commands, the machine and the versions. The book
build only reads the file.
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
    ("gru-default", ["--cell", "gru", "--threads", "1,2", "--repeats", "9"]),
    ("lstm-seq-len", ["--seq-len", "25,50,100,200,400", "--repeats", "5"]),
    ("lstm-batch", ["--batch", "1,4,16,64,128", "--threads", "1,2", "--repeats", "5"]),
] + [
    (f"lstm-hidden-{h}", ["--input", str(h), "--hidden", str(h), "--repeats", "5"])
    for h in (64, 128, 256, 512)
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


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} not found: run `cargo build --release` first")
    runs = []
    for name, args in RUNS:
        cmd = [BIN, "bench", "--json", "--pytorch"] + args
        print(f"[{len(runs) + 1}/{len(RUNS)}] {name}: {' '.join(cmd[1:])}", file=sys.stderr)
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if out.returncode != 0:
            sys.exit(f"{name} failed:\n{out.stderr[-2000:]}")
        runs.append({"name": name, "command": "rnnbook " + " ".join(cmd[1:]), "rows": json.loads(out.stdout)})
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
        },
        "runs": runs,
    }
    tmp = OUT + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    os.replace(tmp, OUT)
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
