"""rate_numpy.py: the sim_rate bench case in NumPy (bench/run.sh runs it).

    tau dx/dt = -x + J tanh(x),  Euler with dt/tau = 0.1, J ~ N(0, 1.5^2/N)

Written as a careful NumPy user would: every array preallocated, ufuncs with
out= so the loop allocates nothing, a 1-D state at B = 1 (J @ r is a gemv) and
[B, N] rows otherwise (r @ J.T is a gemm). A snapshot of x every K steps goes to
a preallocated recording, as cajal's `record E.x every K steps`. Only the loop
is timed; cpu_s is its CPU time (time.thread_time), which leaves out the time
the loop waited for a core on a busy machine.

    /usr/bin/python3 bench/rate_numpy.py N B T K double|float
prints  s_per_step=... cpu_s=... checksum=...
With no arguments it serves: one "N B T K PREC" line in, one result line out,
until end of input, so run.sh pays the interpreter's start-up once.
"""
import sys
import time

import numpy as np


def run(n, batch, steps, every, prec):
    dtype = {"double": np.float64, "float": np.float32}[prec]
    rng = np.random.default_rng(1)
    w = rng.standard_normal((n, n), dtype=dtype)
    w *= dtype(1.5 / np.sqrt(n))
    shape = (n,) if batch == 1 else (batch, n)
    x = rng.standard_normal(shape, dtype=dtype)
    r = np.empty_like(x)
    y = np.empty_like(x)
    rec = np.zeros(((steps + every - 1) // every,) + shape, dtype)
    wt = w.T
    a = dtype(0.1)

    start, cpu = time.perf_counter(), time.thread_time()
    for t in range(steps):
        np.tanh(x, out=r)
        if batch == 1:
            np.matmul(w, r, out=y)
        else:
            np.matmul(r, wt, out=y)
        np.subtract(y, x, out=y)
        np.multiply(y, a, out=y)
        np.add(x, y, out=x)
        if t % every == 0:
            rec[t // every] = x
    loop_s, cpu_s = time.perf_counter() - start, time.thread_time() - cpu
    return f"s_per_step={loop_s / steps:.6g} cpu_s={cpu_s / steps:.6g} checksum={float(np.abs(x).mean()):.6g}"


def main():
    if len(sys.argv) > 1:
        print(run(*(int(a) for a in sys.argv[1:5]), sys.argv[5]))
        return
    for line in sys.stdin:
        n, b, t, k, prec = line.split()
        print(run(int(n), int(b), int(t), int(k), prec), flush=True)


main()
