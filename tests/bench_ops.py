# bench_ops.py THREADS: PyTorch's side of `bench ops` (tests/bench.c): the
# same ops on the same shapes, float32, forward and forward + backward of
# sum(y), median ms of 15 after 2 warm-up rounds. Run by examples/bench_ops.sh.
import math, statistics, sys, time
import torch
import torch.nn.functional as F

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
REPS = 15

def bench(name, f, *shapes):
    g = torch.Generator().manual_seed(2)
    ins = [(torch.rand(s, generator=g) * 2 - 1).requires_grad_() for s in shapes]
    fwd, both = [], []
    for r in range(REPS + 2):
        for x in ins:
            x.grad = None
        t0 = time.perf_counter()
        y = f(*ins)
        t1 = time.perf_counter()
        y.sum().backward()
        t2 = time.perf_counter()
        if r >= 2:
            fwd.append((t1 - t0) * 1e3)
            both.append((t2 - t0) * 1e3)
    print(f"  {name:<44} forward {statistics.median(fwd):8.3f} ms   "
          f"forward+backward {statistics.median(both):8.3f} ms")

n = torch.get_num_threads()
print(f"PyTorch {torch.__version__} ops, {n} thread{'s' if n > 1 else ''}, median of {REPS}:")
bench("conv2d (128,32,14,14) 32->32 3x3 pad 1", lambda x, w, b: F.conv2d(x, w, b, 1, 1),
      (128, 32, 14, 14), (32, 32, 3, 3), (32,))
bench("conv_transpose2d (128,32,14,14) 32->16 4x4 s2",
      lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1), (128, 32, 14, 14), (32, 16, 4, 4), (16,))
bench("logsumexp over (5000,128), last axis", lambda x: torch.logsumexp(x, -1), (5000, 128))
bench("softmax over (5000,128)", lambda x: torch.softmax(x, -1), (5000, 128))
bench("log_softmax over (5000,128)", lambda x: torch.log_softmax(x, -1), (5000, 128))
# the densities as a PyTorch VAE writes them, element-wise
bench("Bernoulli log density (5000,784)",
      lambda x, l: -F.binary_cross_entropy_with_logits(l, x, reduction="none"), (5000, 784), (5000, 784))
LOG2PI = math.log(2 * math.pi)
bench("Gaussian log density (5000,784)",
      lambda x, mu, lv: -0.5 * (LOG2PI + lv + (x - mu) ** 2 * torch.exp(-lv)), (5000, 784), (5000, 784), (5000, 784))
