#!/usr/bin/python3
"""The PyTorch reference VAE (pytorch/examples vae/main.py: 784-400-20 ReLU,
Bernoulli decoder, BCE summed + KL, Adam 1e-3, batch 128, seed 1), reading
the same IDX files without torchvision, for side-by-side comparison with
`vae`. Prints one line per epoch: test loss, train seconds.

usage: examples/pytorch_vae.py DATA_DIR [EPOCHS] [THREADS] [BATCH]"""
import gzip
import os
import sys
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    nd = raw[3]
    dims = np.frombuffer(raw[4:4 + 4 * nd], dtype=">u4")
    return np.frombuffer(raw[4 + 4 * nd:], dtype=np.uint8).reshape(dims)


def find(d, name):
    for n in (name, name + ".gz"):
        if os.path.exists(os.path.join(d, n)):
            return os.path.join(d, n)
    raise SystemExit(f"{d}: no {name}[.gz]")


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


def loss_function(recon, x, mu, logvar):
    bce = F.binary_cross_entropy(recon, x, reduction="sum")
    return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def main():
    data = sys.argv[1]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else os.cpu_count())
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 128
    torch.set_flush_denormal(True)  # as vae does: flat epochs on both sides
    torch.manual_seed(1)
    train = torch.tensor(idx(find(data, "train-images-idx3-ubyte")).reshape(-1, 784) / 255.0, dtype=torch.float32)
    test = torch.tensor(idx(find(data, "t10k-images-idx3-ubyte")).reshape(-1, 784) / 255.0, dtype=torch.float32)
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, epochs + 1):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(len(train))
        total = 0.0
        for i in range(0, len(train), batch):
            x = train[perm[i:i + batch]]
            opt.zero_grad()
            recon, mu, logvar = model(x)
            loss = loss_function(recon, x, mu, logvar)
            loss.backward()
            total += loss.item()
            opt.step()
        seconds = time.perf_counter() - t0
        model.eval()
        test_loss = 0.0
        with torch.no_grad():
            for i in range(0, len(test), 128):
                x = test[i:i + 128]
                recon, mu, logvar = model(x)
                test_loss += loss_function(recon, x, mu, logvar).item()
        print(f"epoch {epoch} train {total / len(train):.2f} test {test_loss / len(test):.2f} "
              f"seconds {seconds:.2f} threads {torch.get_num_threads()}", flush=True)


if __name__ == "__main__":
    main()
