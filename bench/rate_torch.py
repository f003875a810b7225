"""rate_torch.py: the sim_rate bench case in PyTorch (bench/run.sh runs it).

    tau dx/dt = -x + J tanh(x),  Euler with dt/tau = 0.1, J ~ N(0, 1.5^2/N)

On one thread (torch.set_num_threads(1)) under torch.no_grad(), every tensor
preallocated and every op in place or with out=, so the loop allocates nothing:
a 1-D state at B = 1 (torch.mv) and [B, N] rows otherwise (torch.mm with J^T).
A snapshot of x every K steps goes to a preallocated recording, as cajal's
`record E.x every K steps`. Only the loop is timed; cpu_s is its CPU time
(time.thread_time), which leaves out the time the loop waited for a core.

    /usr/bin/python3 bench/rate_torch.py N B T K double|float
prints  s_per_step=... cpu_s=... checksum=...
With no arguments it serves: one "N B T K PREC" line in, one result line out,
until end of input, so run.sh pays the import of torch (about 1.5 s) once.
"""
import sys
import time

import torch


def run(n, batch, steps, every, prec):
    dtype = {"double": torch.float64, "float": torch.float32}[prec]
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        w = torch.randn(n, n, generator=gen, dtype=dtype).mul_(1.5 / n ** 0.5)
        shape = (n,) if batch == 1 else (batch, n)
        x = torch.randn(shape, generator=gen, dtype=dtype)
        r = torch.empty_like(x)
        y = torch.empty_like(x)
        rec = torch.zeros(((steps + every - 1) // every,) + shape, dtype=dtype)
        wt = w.t()

        start, cpu = time.perf_counter(), time.thread_time()
        for t in range(steps):
            torch.tanh(x, out=r)
            if batch == 1:
                torch.mv(w, r, out=y)
            else:
                torch.mm(r, wt, out=y)
            y.sub_(x)
            x.add_(y, alpha=0.1)
            if t % every == 0:
                rec[t // every].copy_(x)
        loop_s, cpu_s = time.perf_counter() - start, time.thread_time() - cpu
    return f"s_per_step={loop_s / steps:.6g} cpu_s={cpu_s / steps:.6g} checksum={float(x.abs().mean()):.6g}"


def main():
    torch.set_num_threads(1)
    if len(sys.argv) > 1:
        print(run(*(int(a) for a in sys.argv[1:5]), sys.argv[5]))
        return
    for line in sys.stdin:
        n, b, t, k, prec = line.split()
        print(run(int(n), int(b), int(t), int(k), prec), flush=True)


main()
