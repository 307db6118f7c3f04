#!/usr/bin/python3
"""The PyTorch twins of examples/compare.c's variants: the same definitions
(784-H-J MLPs, ReLU, the same losses, noise and sparsity conventions; the
conv VAE's convolutional body, 1 -> 32 -> 64 channels, 4x4 kernels, stride
2, around the same layers), the
same data (MNIST / 255), PyTorch's default initialisation, Adam, batch 128.
Writes one JSON object per run with the numbers compare.c reports that both
compute: the reconstruction error per image from clean and corrupted input
(BCE and squared error, decoded from the posterior mean), and the test
-ELBO and KL of the generative ones (one z per image).

usage: examples/compare_pytorch.py DATA_DIR OUT.jsonl [--models LIST]
       [--seeds N] [--epochs N] [--threads N] [--beta B] [--k K]
       [--noise X] [--gauss SD] [--no-clip] [--hidden H] [--latent J]"""
import argparse
import json
import os
import sys
import time

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_vae import find, idx  # noqa: E402  the IDX reader

VARIANTS = ["vae", "beta-vae", "iwae", "cvae", "ae", "sparse", "sparse-hidden",
            "dae-mask", "dae-gauss", "dae-sp", "conv-vae"]


class Twin(nn.Module):
    def __init__(self, v, a):
        super().__init__()
        self.v, self.a = v, a
        self.vae = v in ("vae", "beta-vae", "iwae", "cvae", "conv-vae")
        self.conv = v == "conv-vae"
        c = 10 if v == "cvae" else 0
        J, D = a.latent, 64 * 7 * 7 if self.conv else 784  # what the linear layers see
        self.enc = nn.ModuleList([nn.Linear(D + c, a.hidden), nn.Linear(a.hidden, 2 * J if self.vae else J)])
        self.dec = nn.ModuleList([nn.Linear(J + c, a.hidden), nn.Linear(a.hidden, D)])
        if self.conv:
            self.c1, self.c2 = nn.Conv2d(1, 32, 4, 2, 1), nn.Conv2d(32, 64, 4, 2, 1)
            self.t1, self.t2 = nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ConvTranspose2d(32, 1, 4, 2, 1)

    def onehot(self, y, rows):
        return F.one_hot(y, 10).float().expand(rows.shape[:-1] + (10,)) if self.v == "cvae" else None

    def cat(self, t, y):
        return torch.cat([t, self.onehot(y, t)], -1) if self.v == "cvae" else t

    def encode(self, x, y):  # (code, hidden) or (mu, logvar)
        if self.conv:
            x = F.relu(self.c2(F.relu(self.c1(x.reshape(-1, 1, 28, 28))))).flatten(1)
        h = self.enc[0](self.cat(x, y))
        h = torch.sigmoid(h) if self.v == "sparse-hidden" else F.relu(h)
        out = self.enc[1](h)
        if self.vae:
            return out.chunk(2, -1)
        return (torch.sigmoid(out) if self.v == "sparse" else out), h

    def logits(self, z, y):
        h = self.dec[1](F.relu(self.dec[0](self.cat(z, y))))
        if not self.conv:
            return h
        lead = h.shape[:-1]  # (N) or (k, N): the IWAE's samples
        h = F.relu(h).reshape(-1, 64, 7, 7)
        return self.t2(F.relu(self.t1(h))).reshape(lead + (784,))


def corrupt(x, kind, a, g):
    if kind == "mask":
        return x * (torch.rand(x.shape, generator=g) >= a.noise)
    if kind == "sp":
        hit = torch.rand(x.shape, generator=g) < a.noise
        return torch.where(hit, (torch.rand(x.shape, generator=g) >= 0.5).float(), x)
    n = x + a.gauss * torch.randn(x.shape, generator=g)
    return n if a.no_clip else n.clamp(0, 1)


def sparse_kl(h, rho=0.05, beta=3.0):
    r = h.mean(0).clamp(1e-6, 1 - 1e-6)
    return beta * (rho * torch.log(rho / r) + (1 - rho) * torch.log((1 - rho) / (1 - r))).sum()


def loss_of(m, x, y, a, g):
    N = len(x)
    bce = lambda lg, t: F.binary_cross_entropy_with_logits(lg, t, reduction="sum") / N
    if m.vae:
        mu, lv = m.encode(x, y)
        kl = -0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp()) / N
        if m.v == "iwae":
            k = a.k
            z = mu + torch.exp(0.5 * lv) * torch.randn((k,) + mu.shape, generator=g)
            lg = m.logits(z, y)
            lpx = -F.binary_cross_entropy_with_logits(lg, x.expand_as(lg), reduction="none").sum(-1)
            lpz = (-0.5 * (z.pow(2) + torch.log(torch.tensor(2 * torch.pi)))).sum(-1)
            lq = (-0.5 * ((z - mu).pow(2) * torch.exp(-lv) + lv + torch.log(torch.tensor(2 * torch.pi)))).sum(-1)
            return -(torch.logsumexp(lpx + lpz - lq, 0) - torch.log(torch.tensor(float(k)))).mean()
        z = mu + torch.exp(0.5 * lv) * torch.randn(mu.shape, generator=g)
        return bce(m.logits(z, y), x) + (a.beta if m.v == "beta-vae" else 1.0) * kl
    inp = corrupt(x, m.v[4:], a, g) if m.v.startswith("dae") else x  # dae-mask -> "mask"
    code, h = m.encode(inp, y)
    loss = bce(m.logits(code, y), x)
    if m.v == "sparse":
        loss = loss + sparse_kl(code)
    if m.v == "sparse-hidden":
        loss = loss + sparse_kl(h)
    return loss


@torch.no_grad()
def evaluate(m, x, y, a, g):
    out = {}
    for kind in ("clean", "mask", "sp", "gauss"):
        inp = x if kind == "clean" else corrupt(x, kind, a, g)
        code = m.encode(inp, y)[0]
        p = torch.sigmoid(m.logits(code, y)).clamp(1e-7, 1 - 1e-7)
        out[f"bce_{kind}"] = (-(x * torch.log(p) + (1 - x) * torch.log(1 - p))).sum(1).mean().item()
        out[f"se_{kind}"] = (p - x).pow(2).sum(1).mean().item()
    if m.vae:
        mu, lv = m.encode(x, y)
        z = mu + torch.exp(0.5 * lv) * torch.randn(mu.shape, generator=g)
        rec = F.binary_cross_entropy_with_logits(m.logits(z, y), x, reduction="sum").item() / len(x)
        kl = (-0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())).item() / len(x)
        out["neg_elbo"], out["kl"] = rec + kl, kl
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("out")
    p.add_argument("--models", default=",".join(VARIANTS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--beta", type=float, default=4)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--noise", type=float, default=0.25)
    p.add_argument("--gauss", type=float, default=0.25)
    p.add_argument("--no-clip", action="store_true")
    p.add_argument("--hidden", type=int, default=400)
    p.add_argument("--latent", type=int, default=20)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    load = lambda n: torch.tensor(idx(find(a.data, n)), dtype=torch.float32)
    xtr = load("train-images-idx3-ubyte").reshape(-1, 784) / 255
    xte = load("t10k-images-idx3-ubyte").reshape(-1, 784) / 255
    ytr = torch.tensor(idx(find(a.data, "train-labels-idx1-ubyte")), dtype=torch.long)
    yte = torch.tensor(idx(find(a.data, "t10k-labels-idx1-ubyte")), dtype=torch.long)
    with open(a.out, "a") as f:
        for v in a.models.split(","):
            for seed in range(1, a.seeds + 1):
                torch.manual_seed(seed)
                g = torch.Generator().manual_seed(seed)
                m = Twin(v, a)
                opt = torch.optim.Adam(m.parameters(), lr=1e-3)
                secs = []
                for epoch in range(a.epochs):
                    t0 = time.perf_counter()
                    for b in torch.randperm(len(xtr), generator=g).split(128):
                        opt.zero_grad()
                        loss_of(m, xtr[b], ytr[b], a, g).backward()
                        opt.step()
                    secs.append(time.perf_counter() - t0)
                r = {"model": v, "seed": seed, "framework": "pytorch", "sec_epoch": sorted(secs)[len(secs) // 2]}
                r.update(evaluate(m, xte, yte, a, g))
                print(json.dumps(r), flush=True)
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
