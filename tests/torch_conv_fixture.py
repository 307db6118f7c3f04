# torch_conv_fixture.py: prints the PyTorch values that tests/test_ops.c
# (test_conv_matches_pytorch) pins: conv2d and conv_transpose2d in double on
# inputs filled with sin(a*i + b). Rerun with /usr/bin/python3 (python3-torch).
import torch, math
torch.set_default_dtype(torch.float64)
def fill(shape, a, b):
    n = 1
    for s in shape: n *= s
    return torch.tensor([math.sin(a * i + b) for i in range(n)]).reshape(shape)
x = fill((2, 3, 5, 4), 0.7, 0.1)
W = fill((4, 3, 3, 3), 1.3, 0.2)
b = fill((4,), 2.1, 0.3)
y = torch.nn.functional.conv2d(x, W, b, stride=2, padding=1)
print(tuple(y.shape), [round(v, 12) for v in y.flatten()[[0, 5, 17, y.numel()-1]].tolist()], round(y.sum().item(), 12))
Wt = fill((3, 2, 4, 3), 0.9, 0.4)
bt = fill((2,), 1.7, 0.5)
yt = torch.nn.functional.conv_transpose2d(x, Wt, bt, stride=2, padding=1, output_padding=1)
print(tuple(yt.shape), [round(v, 12) for v in yt.flatten()[[0, 7, 33, yt.numel()-1]].tolist()], round(yt.sum().item(), 12))
c = torch.nn.Conv2d(3, 4, 3); ct = torch.nn.ConvTranspose2d(3, 2, 4)
print(c.weight.shape, ct.weight.shape)
