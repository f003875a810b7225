"""train_torch.py: the training cases of `make bench` in PyTorch (bench/run.sh runs it).

Models, each trained on the adding problem (batch B, T steps; inputs: a value
~ U[0, 1) and a marker, 1 at one step of the first half and one of the second;
target: the sum of the two marked values, at the last step only), with the cost
cajal's `mse(z, target)` computes, sum(mask (y - target)^2) / sum(mask):

  rnn    nn.RNN(2, H) (tanh) + nn.Linear(H, 1, bias=False), y[t] = Wout output[t]
         (cajal: the standard library's RNN cell, bench/cases/train_rnn.cajal).
  ctrnn  the continuous-time rate RNN as an explicit loop, the usual way:
         x = x + 0.1 (-x + J(tanh x) + Bin(u[t])), nn.Linear layers without
         bias, y = Wout(tanh x) over the stacked rates after the loop.
  lstm   nn.LSTM(2, H) + nn.Linear(H, 1, bias=False), y[t] = Wout output[t].
  gru    nn.GRU(2, H) + the same readout.

One training step = the batch drawn (torch ops), forward, backward, Adam
(torch.optim.Adam, lr 1e-3): what cajal's `--stats` s_per_step covers. One
thread (torch.set_num_threads(1)). Requests, one line each, on stdin; one answer
line each on stdout (run.sh keeps the process: torch's import is paid once):

  time KIND H B T S PREC        a fresh model, one untimed step (the first
                                step's one-off costs; cajal's are in its
                                figure), then S timed steps:
                                s_per_step=... cpu_s=... loss=...
  prep KIND H B T PREC DIR      writes DIR/batch.npz (inputs [B, T, 2], targets,
                                mask [B, T, 1]); for rnn, lstm and gru also the
                                PyTorch weights cajal loads: DIR/sd.npz (the
                                module's state_dict, `load ... as torch_KIND`) and
                                DIR/ro.npy (the readout's weight)
  grad KIND H B T PREC DIR      the loss and every gradient on DIR/batch.npz from
                                the weights cajal used (ctrnn: DIR/w0.npz, cajal's
                                `save`; rnn, lstm, gru: sd.npz, ro.npy), against
                                cajal's (DIR/g.npz of `save grads`, the loss in
                                DIR/w1.npz's loss.fit[0]):
                                grad_relerr=... loss_relerr=... worst=NAME
  ops N B T PREC                the per-op cost of a tiny RNN training pass,
                                written out op by op (bench case op_overhead):
                                us_per_op=... ops=... s=...
  vec N PREC                    torch.tanh and torch.sigmoid over N elements
                                (bench case vec_tanh): ns_per_elem=... sigmoid_ns_per_elem=...

grad_relerr is the largest, over the parameters, of |g_cajal - g_torch|_2 /
|g_torch|_2 (each tensor as a whole), and the loss's relative error.
"""
import os
import sys
import time

import numpy as np
import torch


def dtype_of(prec):
    return {"double": torch.float64, "float": torch.float32}[prec]


def adding_batch(B, T, dtype, gen=None):
    """One batch of the adding problem, time-major: x [T, B, 2], target and mask [T, B, 1]."""
    x = torch.zeros(T, B, 2, dtype=dtype)
    x[:, :, 0] = torch.rand(T, B, generator=gen, dtype=dtype)
    half = T // 2
    m1 = torch.randint(0, half, (B,), generator=gen)
    m2 = torch.randint(half, T, (B,), generator=gen)
    cols = torch.arange(B)
    x[m1, cols, 1] = 1
    x[m2, cols, 1] = 1
    target = torch.zeros(T, B, 1, dtype=dtype)
    target[T - 1, :, 0] = x[m1, cols, 0] + x[m2, cols, 0]
    mask = torch.zeros(T, B, 1, dtype=dtype)
    mask[T - 1] = 1
    return x, target, mask


class Ctrnn(torch.nn.Module):
    def __init__(self, n_in, H):
        super().__init__()
        self.Bin = torch.nn.Linear(n_in, H, bias=False)
        self.J = torch.nn.Linear(H, H, bias=False)
        self.Wout = torch.nn.Linear(H, 1, bias=False)

    def forward(self, u):
        x = torch.zeros(u.shape[1], self.J.weight.shape[0], dtype=u.dtype)
        rs = []
        for t in range(u.shape[0]):
            r = torch.tanh(x)
            rs.append(r)
            x = x + 0.1 * (-x + self.J(r) + self.Bin(u[t]))
        return self.Wout(torch.stack(rs))


class Recurrent(torch.nn.Module):
    """nn.RNN / nn.LSTM / nn.GRU with a linear readout."""

    def __init__(self, kind, n_in, H):
        super().__init__()
        self.kind = kind
        cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
        self.rnn = cls(n_in, H)
        self.Wout = torch.nn.Linear(H, 1, bias=False)

    def forward(self, u):
        out, _ = self.rnn(u)
        return self.Wout(out)


def make_model(kind, H, dtype):
    m = Ctrnn(2, H) if kind == "ctrnn" else Recurrent(kind, 2, H)
    return m.to(dtype)


def masked_mse(y, target, mask):
    return (mask * (y - target) ** 2).sum() / mask.sum()


def train_step(model, opt, B, T, dtype):
    x, target, mask = adding_batch(B, T, dtype)
    loss = masked_mse(model(x), target, mask)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


def time_steps(kind, H, B, T, S, prec):
    dtype = dtype_of(prec)
    torch.manual_seed(1)
    model = make_model(kind, H, dtype)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    train_step(model, opt, B, T, dtype)   # untimed: the first step's one-off costs (cajal's are timed)
    start, cpu = time.perf_counter(), time.thread_time()
    for _ in range(S):
        loss = train_step(model, opt, B, T, dtype)
    wall, cpu = time.perf_counter() - start, time.thread_time() - cpu
    return f"s_per_step={wall / S:.6g} cpu_s={cpu / S:.6g} loss={float(loss):.6g}"


# ---- the gradient check --------------------------------------------------------

def prep(kind, H, B, T, prec, d):
    dtype = torch.float64   # files in double; cajal's float build rounds them as it reads
    gen = torch.Generator().manual_seed(7)
    x, target, mask = adding_batch(B, T, dtype, gen)
    tb = lambda a: a.transpose(0, 1).contiguous().numpy()   # [B, T, n]: one trial per example
    np.savez(os.path.join(d, "batch.npz"), inputs=tb(x), targets=tb(target), mask=tb(mask))
    if kind in ("rnn", "lstm", "gru"):
        torch.manual_seed(11)
        m = make_model(kind, H, dtype)
        with torch.no_grad():   # both biases non-zero, so the sum cajal keeps is tested
            for name, p in m.rnn.named_parameters():
                if name.startswith("bias"):
                    p.uniform_(-0.5, 0.5, generator=gen)
        np.savez(os.path.join(d, "sd.npz"), **{k: v.numpy() for k, v in m.rnn.state_dict().items()})
        np.save(os.path.join(d, "ro.npy"), m.Wout.weight.detach().numpy())
    return "ok=1"


GATES = {"rnn": ["h"], "lstm": ["i", "f", "z", "o"], "gru": ["r", "z", "n"]}


def load_weights(kind, H, m, d, dtype):
    """Sets m's weights to those cajal ran with; returns [(cajal name, torch param, rows)]:
    the gradient of cajal's name is compared with rows of the torch parameter's."""
    pairs = []
    with torch.no_grad():
        if kind == "ctrnn":
            w = {k: torch.tensor(v, dtype=dtype) for k, v in np.load(os.path.join(d, "w0.npz")).items()}
            m.Bin.weight.copy_(w["Bin.w"])
            m.J.weight.copy_(w["J.w"])
            m.Wout.weight.copy_(w["Wout.w"])
            pairs = [("Bin.w", m.Bin.weight, None), ("J.w", m.J.weight, None), ("Wout.w", m.Wout.weight, None)]
        else:
            sd = {k: torch.tensor(v, dtype=dtype) for k, v in np.load(os.path.join(d, "sd.npz")).items()}
            m.rnn.load_state_dict(sd)
            m.Wout.weight.copy_(torch.tensor(np.load(os.path.join(d, "ro.npy")), dtype=dtype))
            r = m.rnn
            for k, g in enumerate(GATES[kind]):
                rows = slice(k * H, (k + 1) * H)
                pairs += [(f"L.{g}.W_in", r.weight_ih_l0, rows), (f"L.{g}.W_h", r.weight_hh_l0, rows)]
                if kind == "gru" and g == "n":
                    pairs += [("L.n.b_in", r.bias_ih_l0, rows), ("L.n.b_h", r.bias_hh_l0, rows)]
                else:   # one cajal bias, the sum of PyTorch's two: the gradient of each
                    pairs += [(f"L.{g}.b", r.bias_ih_l0, rows), (f"L.{g}.b", r.bias_hh_l0, rows)]
            pairs.append(("Wout.w", m.Wout.weight, None))
    return pairs


def grad(kind, H, B, T, prec, d):
    dtype = dtype_of(prec)
    m = make_model(kind, H, dtype)
    pairs = load_weights(kind, H, m, d, dtype)
    bt = np.load(os.path.join(d, "batch.npz"))
    tm = lambda a: torch.tensor(a, dtype=dtype).transpose(0, 1).contiguous()
    x, target, mask = tm(bt["inputs"]), tm(bt["targets"]), tm(bt["mask"])
    loss = masked_mse(m(x), target, mask)
    loss.backward()
    gc = np.load(os.path.join(d, "g.npz"))
    loss_c = float(np.load(os.path.join(d, "w1.npz"))["loss.fit"][0])
    loss_rel = abs(loss_c - float(loss)) / abs(float(loss))
    worst, worst_name = 0.0, "-"
    for name, p, rows in pairs:
        gt = p.grad.detach().double().numpy()
        if rows is not None:
            gt = gt[rows]
        a = np.asarray(gc[name], dtype=np.float64).reshape(gt.shape)
        rel = np.linalg.norm(a - gt) / max(np.linalg.norm(gt), 1e-300)
        if rel > worst:
            worst, worst_name = rel, name
    missing = sorted(set(gc.files) - {n for n, _, _ in pairs})
    if missing:
        worst, worst_name = float("inf"), "unmatched:" + ",".join(missing)
    return f"grad_relerr={max(worst, loss_rel):.3g} loss_relerr={loss_rel:.3g} worst={worst_name}"


# ---- op overhead ------------------------------------------------------------------

def ops(n, B, T, prec):
    """A tiny tanh RNN (n units, batch B, T steps) with autograd, written op by op.
    The weights are transposed and the inputs split before the loop, so each step
    issues exactly 5 ops (u[t] Win^T, h J^T, their sum, tanh, the readout h Wout^T),
    and the loss reads every step's readout, so each of them has one backward
    node that runs. us_per_op = the pass's time (forward and backward, the median
    of 5 after a warm-up) / (2 * 5 * T); the few ops outside the loop are left in
    the time and out of the count."""
    dtype = dtype_of(prec)
    torch.manual_seed(1)
    Win = (0.5 * torch.randn(n, 2, dtype=dtype)).requires_grad_()
    J = (torch.randn(n, n, dtype=dtype) / n ** 0.5).requires_grad_()
    Wout = (0.5 * torch.randn(1, n, dtype=dtype)).requires_grad_()
    u = torch.rand(T, B, 2, dtype=dtype)
    target = torch.ones(T, B, 1, dtype=dtype)

    def one():
        WinT, JT, WoutT = Win.t(), J.t(), Wout.t()
        us = u.unbind(0)
        h = torch.zeros(B, n, dtype=dtype)
        zs = []
        for t in range(T):
            zs.append(h.mm(WoutT))
            h = torch.tanh(us[t].mm(WinT) + h.mm(JT))
        loss = ((torch.stack(zs) - target) ** 2).mean()
        loss.backward()
        Win.grad = J.grad = Wout.grad = None

    one()
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        one()
        runs.append(time.perf_counter() - start)
    s = sorted(runs)[2]
    return f"us_per_op={1e6 * s / (2 * 5 * T):.4g} ops={2 * 5 * T} s={s:.6g}"


def vec(n, prec):
    """torch.tanh and torch.sigmoid with out= over n elements spread over [-6, 6):
    ns per element, the best of 5 runs of enough passes for about 0.1 s."""
    dtype = dtype_of(prec)
    x = torch.rand(n, dtype=dtype) * 12 - 6
    y = torch.empty_like(x)
    res = {}
    for name, f in (("tanh", torch.tanh), ("sigmoid", torch.sigmoid)):
        f(x, out=y)
        passes = max(1, int(0.1 / (n * 3e-9)))
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(passes):
                f(x, out=y)
            best = min(best, (time.perf_counter() - start) / passes / n)
        res[name] = best
    return f"ns_per_elem={1e9 * res['tanh']:.4g} sigmoid_ns_per_elem={1e9 * res['sigmoid']:.4g}"


def answer(words):
    cmd = words[0]
    if cmd == "time":
        kind, H, B, T, S, prec = words[1], *map(int, words[2:6]), words[6]
        return time_steps(kind, H, B, T, S, prec)
    if cmd == "prep":
        return prep(words[1], int(words[2]), int(words[3]), int(words[4]), words[5], words[6])
    if cmd == "grad":
        return grad(words[1], int(words[2]), int(words[3]), int(words[4]), words[5], words[6])
    if cmd == "ops":
        return ops(int(words[1]), int(words[2]), int(words[3]), words[4])
    if cmd == "vec":
        return vec(int(words[1]), words[2])
    raise ValueError(f"unknown request {cmd}")


def main():
    torch.set_num_threads(1)
    if len(sys.argv) > 1:
        print(answer(sys.argv[1:]))
        return
    for line in sys.stdin:
        try:
            print(answer(line.split()), flush=True)
        except Exception as exc:   # one bad request must not hang run.sh
            print(f"error={type(exc).__name__}:{str(exc).replace(' ', '_')[:200]}", flush=True)


main()
