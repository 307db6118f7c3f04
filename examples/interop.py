#!/usr/bin/python3
"""Checkpoints moving between `vae` and PyTorch, both ways, with no
conversion step: the file is safetensors, read and written here with numpy
only.

1. A checkpoint `vae` wrote is loaded into the PyTorch twin of the VAE
   (same layer names and shapes), which computes the test reconstruction
   from z = mu; `vae --eval` computes the same number; they must agree to
   float precision.
2. A VAE trained in PyTorch (one epoch) is saved the same way, with the
   metadata `vae` needs to rebuild it, and evaluated by `vae --eval`; again
   the two reconstructions must agree.

usage: examples/interop.py CHECKPOINT DATA_DIR [VAE_PROGRAM]"""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_vae import find, idx  # noqa: E402

DT = {"F32": np.float32, "F64": np.float64}


def read_safetensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    meta = head.pop("__metadata__", {})
    out = {}
    for name, t in head.items():
        s, e = t["data_offsets"]
        out[name] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=DT[t["dtype"]]).reshape(t["shape"])
    return out, meta


def write_safetensors(path, tensors, meta):
    head, blobs, off = {"__metadata__": meta}, [], 0
    for name, a in tensors.items():
        raw = np.ascontiguousarray(a, dtype=np.float32).tobytes()
        head[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    j = json.dumps(head, separators=(",", ":")).encode()
    j += b" " * (-len(j) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(j)) + j + b"".join(blobs))


def layers(w):  # the MLPs as (weight, bias) pairs, in order
    enc = sorted({k.split(".")[1] for k in w if k.startswith("encoder.")}, key=int)
    dec = sorted({k.split(".")[1] for k in w if k.startswith("decoder.")}, key=int)
    get = lambda p, i: (torch.tensor(np.array(w[f"{p}.{i}.weight"])), torch.tensor(np.array(w[f"{p}.{i}.bias"])))
    return [get("encoder", i) for i in enc], [get("decoder", i) for i in dec]


@torch.no_grad()
def reconstruction(w, x):
    """BCE per image of sigmoid(dec(mu)) against x, clipped as `vae` does."""
    enc, dec = layers(w)
    h = x
    for i, (W, b) in enumerate(enc):
        h = F.linear(h, W, b)
        if i < len(enc) - 1:
            h = F.relu(h)
    mu = h[:, : h.shape[1] // 2]
    for i, (W, b) in enumerate(dec):
        mu = F.linear(mu, W, b)
        if i < len(dec) - 1:
            mu = F.relu(mu)
    p = torch.sigmoid(mu).clamp(1e-7, 1 - 1e-7)
    return (-(x * torch.log(p) + (1 - x) * torch.log(1 - p))).sum(1).mean().item()


def ours(program, ckpt, data):
    out = subprocess.run([program, "--eval", ckpt, "--data", data, "--iw-samples", "0"],
                         capture_output=True, text=True)
    m = re.search(r"reconstruction from z = mu: ([\d.]+) nats", out.stdout)
    if out.returncode or not m:
        raise SystemExit(f"vae --eval failed:\n{out.stdout}{out.stderr}")
    return float(m.group(1))


def main():
    ckpt, data = sys.argv[1], sys.argv[2]
    program = sys.argv[3] if len(sys.argv) > 3 else "build/vae"
    torch.set_num_threads(2)
    x = torch.tensor(idx(find(data, "t10k-images-idx3-ubyte")).reshape(-1, 784) / 255.0, dtype=torch.float32)
    w, meta = read_safetensors(ckpt)
    a, b = reconstruction({k: v for k, v in w.items() if not k.startswith("optim.")}, x), ours(program, ckpt, data)
    print(f"vae -> PyTorch: {ckpt}: PyTorch {a:.6f}, vae --eval {b:.6f} nats per image, "
          f"relative difference {abs(a - b) / b:.1e}")
    ok = abs(a - b) / b < 1e-5
    # the reverse: train the twin for an epoch in PyTorch, save, evaluate with vae
    torch.manual_seed(1)
    xtr = torch.tensor(idx(find(data, "train-images-idx3-ubyte")).reshape(-1, 784) / 255.0, dtype=torch.float32)
    sizes = [(400, 784), (40, 400), (400, 20), (784, 400)]
    params = []
    for o, i in sizes:
        lin = torch.nn.Linear(i, o)
        params += [lin.weight.detach().requires_grad_(), lin.bias.detach().requires_grad_()]
    opt = torch.optim.Adam(params, lr=1e-3)
    for bidx in torch.randperm(len(xtr)).split(128):
        xb = xtr[bidx]
        h = F.linear(F.relu(F.linear(xb, params[0], params[1])), params[2], params[3])
        mu, lv = h.chunk(2, 1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * lv)
        lg = F.linear(F.relu(F.linear(z, params[4], params[5])), params[6], params[7])
        loss = (F.binary_cross_entropy_with_logits(lg, xb, reduction="sum")
                - 0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())) / len(xb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    names = ["encoder.0.weight", "encoder.0.bias", "encoder.1.weight", "encoder.1.bias",
             "decoder.0.weight", "decoder.0.bias", "decoder.1.weight", "decoder.1.bias"]
    tw = {n: p.detach().numpy() for n, p in zip(names, params)}
    model_meta = {k: v for k, v in meta.items() if k.startswith("model.")}  # the same configuration
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "torch.safetensors")
        write_safetensors(path, tw, model_meta)
        a2, b2 = reconstruction(tw, x), ours(program, path, data)
    print(f"PyTorch -> vae: a VAE trained one epoch in PyTorch: PyTorch {a2:.6f}, vae --eval {b2:.6f} "
          f"nats per image, relative difference {abs(a2 - b2) / b2:.1e}")
    ok = ok and abs(a2 - b2) / b2 < 1e-5
    print("agree to float precision" if ok else "DISAGREE")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
