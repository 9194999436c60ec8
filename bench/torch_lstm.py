"""PyTorch's CPU nn.LSTM / nn.GRU on the workload of `rnnbook bench`, for side-by-side numbers.

Usage: python3 bench/torch_lstm.py [--cell lstm|gru] [--seq-len 100] [--batch 32] [--input 256]
       [--hidden 256] [--threads 1] [--repeats 5] [--json]

Times forward and forward+backward (loss = sum(y * dy), so the backward receives dy, as in
`rnnbook bench`), after one warm-up, and reports the median and min-max of the repeats.
GFLOP/s count GEMM flops only, as `rnnbook bench` does: forward 2*T*B*(I+H)*G*H, fwd+bwd 3x that.
"""

import argparse
import json
import statistics
import time

import torch


def timed(repeats, fn):
    fn()  # warm-up
    ms = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - start) * 1e3)
    ms.sort()
    return statistics.median(ms), ms[0], ms[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cell", default="lstm", choices=["lstm", "gru"])
    ap.add_argument("--seq-len", type=int, default=100)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--input", type=int, default=256)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    gates = 4 if a.cell == "lstm" else 3
    module = (torch.nn.LSTM if a.cell == "lstm" else torch.nn.GRU)(a.input, a.hidden)
    x = torch.rand(a.seq_len, a.batch, a.input) * 2 - 1
    x.requires_grad_(True)
    dy = torch.rand(a.seq_len, a.batch, a.hidden) * 2 - 1

    def fwd():
        with torch.no_grad():
            module(x)

    def fwd_bwd():
        module.zero_grad(set_to_none=True)
        x.grad = None
        y, _ = module(x)
        (y * dy).sum().backward()

    f_med, _, _ = timed(a.repeats, fwd)
    b_med, b_min, b_max = timed(a.repeats, fwd_bwd)
    flops = 2.0 * a.seq_len * a.batch * (a.input + a.hidden) * gates * a.hidden
    row = {
        "cell": a.cell,
        "impl": "pytorch",
        "dtype": "f32",
        "seq_len": a.seq_len,
        "batch": a.batch,
        "input_size": a.input,
        "hidden_size": a.hidden,
        "threads": a.threads,
        "fwd_ms": f_med,
        "fwd_bwd_ms": b_med,
        "fwd_bwd_range_ms": [b_min, b_max],
        "gflops": 3 * flops / b_med / 1e6,
        "torch": torch.__version__,
    }
    if a.json:
        print(json.dumps(row))
    else:
        print(
            f"pytorch {torch.__version__} {a.cell} T={a.seq_len} B={a.batch} I={a.input} "
            f"H={a.hidden}, {a.threads} thread(s): fwd {f_med:.1f} ms, fwd+bwd {b_med:.1f} ms "
            f"({b_min:.1f}-{b_max:.1f}), {row['gflops']:.1f} GFLOP/s"
        )


if __name__ == "__main__":
    main()
