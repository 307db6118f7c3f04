#!/usr/bin/python3
"""The PyTorch twin of examples/conv_vae.c: the same convolutional VAE
(encoder 1 -> 32 -> 64 channels, 4x4 kernels, stride 2, a linear layer to
(mu, log var); decoder the mirror image with transposed convolutions;
Bernoulli decoder on MNIST / 255), PyTorch's default initialisation, Adam
1e-3, batch 128. Prints one line per epoch: the test negative ELBO (one z
per image) and the training seconds, as the C program's metrics do.

usage: examples/conv_vae_pytorch.py DATA_DIR [EPOCHS] [THREADS]"""
import os
import sys
import time

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_vae import find, idx  # noqa: E402  the IDX reader


class ConvVAE(nn.Module):
    def __init__(self, z=20):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 32, 4, 2, 1), nn.Conv2d(32, 64, 4, 2, 1)
        self.enc, self.dec = nn.Linear(64 * 49, 2 * z), nn.Linear(z, 64 * 49)
        self.t1, self.t2 = nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ConvTranspose2d(32, 1, 4, 2, 1)
        self.z = z

    def forward(self, x):
        h = F.relu(self.c2(F.relu(self.c1(x.view(-1, 1, 28, 28)))))
        mu, logvar = self.enc(h.flatten(1)).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        h = F.relu(self.dec(z)).view(-1, 64, 7, 7)
        return self.t2(F.relu(self.t1(h))).view(-1, 784), mu, logvar


def neg_elbo(logits, x, mu, logvar):  # summed over the batch
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def main():
    data = sys.argv[1]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else os.cpu_count())
    torch.manual_seed(1)
    train = torch.tensor(idx(find(data, "train-images-idx3-ubyte")).reshape(-1, 784) / 255.0,
                         dtype=torch.float32)
    test = torch.tensor(idx(find(data, "t10k-images-idx3-ubyte")).reshape(-1, 784) / 255.0,
                        dtype=torch.float32)
    model = ConvVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    print(f"parameters {sum(p.numel() for p in model.parameters())}")
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        for b in torch.randperm(len(train)).split(128):
            x = train[b]
            opt.zero_grad()
            logits, mu, logvar = model(x)
            loss = neg_elbo(logits, x, mu, logvar) / len(x)
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - t0
        model.eval()
        total = 0.0
        with torch.no_grad():
            for x in test.split(500):
                logits, mu, logvar = model(x)
                total += neg_elbo(logits, x, mu, logvar).item()
        print(f"epoch {epoch} test -ELBO {total / len(test):.2f} seconds {seconds:.2f}", flush=True)


if __name__ == "__main__":
    main()
