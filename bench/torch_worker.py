"""PyTorch's side of `rnnbook bench --pytorch`: a worker that stays up for the whole benchmark and
times nn.LSTM / nn.GRU on request, so that PyTorch runs inside the same interleaved rounds as the
Rust implementations.

Protocol: one JSON object per line on stdin, one JSON reply per line on stdout.

    {"op": "setup", "cell": "lstm", "seq_len": T, "batch": B, "input_size": I, "hidden_size": H,
     "threads": N, "dir": D}
        D holds the benchmark's own problem as raw little-endian f32 files (x, h0, c0, dy, dh_n,
        dc_n, weight_ih, weight_hh, bias_ih, bias_hh), the same numbers the Rust
        implementations get. Reply: {"torch", "capability", "onednn_available", "onednn_ran",
        "threads"}. "onednn_ran" says whether the profiler saw oneDNN's RNN kernel
        (aten::mkldnn_rnn_layer) run the forward and backward.
    {"op": "fwd"}       one forward with gradients enabled (the graph is built, as ours caches
                        what its backward needs). Reply: {"ms": ...}
    {"op": "fwd_bwd"}   one forward and backward of loss = sum(y*dy) + sum(h_n*dh_n)
                        (+ sum(c_n*dc_n)), so the backward receives exactly dy, dh_n, dc_n.
    {"op": "quit"}

Times are taken inside this process (time.perf_counter around the call), as the Rust side times
its calls inside its thread pool: the pipe is not counted.
"""

import json
import os
import sys
import time

import numpy as np
import torch


def load(d, name, shape):
    a = np.fromfile(os.path.join(d, name + ".f32"), dtype="<f4")
    return torch.from_numpy(a.reshape(shape).copy())


class Job:
    def __init__(self, m):
        torch.set_num_threads(m["threads"])
        self.cell = m["cell"]
        t, b, i, h = m["seq_len"], m["batch"], m["input_size"], m["hidden_size"]
        g = 4 if self.cell == "lstm" else 3
        d = m["dir"]
        cls = torch.nn.LSTM if self.cell == "lstm" else torch.nn.GRU
        self.module = cls(i, h)
        with torch.no_grad():
            self.module.weight_ih_l0.copy_(load(d, "weight_ih", (g * h, i)))
            self.module.weight_hh_l0.copy_(load(d, "weight_hh", (g * h, h)))
            self.module.bias_ih_l0.copy_(load(d, "bias_ih", (g * h,)))
            self.module.bias_hh_l0.copy_(load(d, "bias_hh", (g * h,)))
        self.x = load(d, "x", (t, b, i)).requires_grad_(True)
        self.h0 = load(d, "h0", (1, b, h)).requires_grad_(True)
        self.dy = load(d, "dy", (t, b, h))
        self.dh_n = load(d, "dh_n", (1, b, h))
        if self.cell == "lstm":
            self.c0 = load(d, "c0", (1, b, h)).requires_grad_(True)
            self.dc_n = load(d, "dc_n", (1, b, h))
        self.threads = torch.get_num_threads()

    def forward(self):
        if self.cell == "lstm":
            return self.module(self.x, (self.h0, self.c0))
        return self.module(self.x, self.h0)

    def fwd(self):
        y, s = self.forward()
        return y

    def fwd_bwd(self):
        self.module.zero_grad(set_to_none=True)
        for t in (self.x, self.h0) + ((self.c0,) if self.cell == "lstm" else ()):
            t.grad = None
        y, s = self.forward()
        if self.cell == "lstm":
            h_n, c_n = s
            loss = (y * self.dy).sum() + (h_n * self.dh_n).sum() + (c_n * self.dc_n).sum()
        else:
            loss = (y * self.dy).sum() + (s * self.dh_n).sum()
        loss.backward()

    def onednn_ran(self):
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            self.fwd_bwd()
        return any("mkldnn_rnn" in e.key for e in prof.key_averages())


def timed(f):
    start = time.perf_counter()
    f()
    return (time.perf_counter() - start) * 1e3


def main():
    job = None
    for line in sys.stdin:
        m = json.loads(line)
        op = m["op"]
        if op == "setup":
            job = Job(m)
            reply = {
                "torch": torch.__version__,
                "capability": torch.backends.cpu.get_cpu_capability(),
                "onednn_available": torch.backends.mkldnn.is_available(),
                "onednn_ran": job.onednn_ran(),
                "threads": job.threads,
            }
        elif op == "fwd":
            reply = {"ms": timed(job.fwd)}
        elif op == "fwd_bwd":
            reply = {"ms": timed(job.fwd_bwd)}
        elif op == "quit":
            return
        else:
            reply = {"error": f"unknown op {op}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
