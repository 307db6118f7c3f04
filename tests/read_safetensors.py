#!/usr/bin/python3
"""Reads a safetensors file with nothing but json and numpy (no part of this
library) and checks what tests/test_checkpoint.c wrote into it:
  fc.weight (3x4) = 0.5·arange(12) - 1, fc.bias (3) = [7, 8, 9],
  metadata "model" = "check"."""
import json
import struct
import sys

import numpy as np

path = sys.argv[1]
with open(path, "rb") as f:
    raw = f.read()
(n,) = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
dtypes = {"F32": "<f4", "F64": "<f8"}

def tensor(name):
    h = header[name]
    b, e = h["data_offsets"]
    return np.frombuffer(data[b:e], dtype=dtypes[h["dtype"]]).reshape(h["shape"])

w, b = tensor("fc.weight"), tensor("fc.bias")
ok = (w.shape == (3, 4) and np.allclose(w, 0.5 * np.arange(12).reshape(3, 4) - 1)
      and b.shape == (3,) and np.allclose(b, [7, 8, 9])
      and header["__metadata__"]["model"] == "check")
print("numpy read", path, "ok" if ok else "MISMATCH", w.ravel()[:4], b)
sys.exit(0 if ok else 1)
