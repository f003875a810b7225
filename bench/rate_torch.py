"""rate_torch.py: the sim_rate bench case in PyTorch (bench/run.sh runs it).

    tau dx/dt = -x + J tanh(x),  Euler with dt/tau = 0.1, J ~ N(0, 1.5^2/N)

On one thread (torch.set_num_threads(1)) under torch.no_grad(), every tensor
preallocated and every op in place or with out=, so the loop allocates nothing:
a 1-D state at B = 1 (torch.mv) and [B, N] rows otherwise (torch.mm with J^T).
A snapshot of x every K steps goes to a preallocated recording, as cajal's
`record E.x every K steps`. Only the loop is timed.

    /usr/bin/python3 bench/rate_torch.py N B T K double|float
prints  s_per_step=... checksum=...
"""
import sys
import time

import torch


def main():
    n, batch, steps, every = (int(a) for a in sys.argv[1:5])
    dtype = {"double": torch.float64, "float": torch.float32}[sys.argv[5]]
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        w = torch.randn(n, n, generator=gen, dtype=dtype).mul_(1.5 / n ** 0.5)
        shape = (n,) if batch == 1 else (batch, n)
        x = torch.randn(shape, generator=gen, dtype=dtype)
        r = torch.empty_like(x)
        y = torch.empty_like(x)
        rec = torch.zeros(((steps + every - 1) // every,) + shape, dtype=dtype)
        wt = w.t()

        start = time.perf_counter()
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
        loop_s = time.perf_counter() - start
    print(f"s_per_step={loop_s / steps:.6g} checksum={float(x.abs().mean()):.6g}")


main()
