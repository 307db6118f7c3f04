#!/usr/bin/python3
"""Sets compare's results.json beside the PyTorch twins' JSON lines
(examples/compare_pytorch.py): per variant, the mean over seeds of each
reconstruction error and, for the generative ones, the -ELBO, with the
difference in nats.

usage: examples/compare_twins.py OUT/results.json TWINS.jsonl"""
import json
import statistics
import sys

ours = json.load(open(sys.argv[1]))["runs"]
twins = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
keys = ["bce_clean", "bce_mask", "bce_sp", "bce_gauss", "neg_elbo"]
print("| model | " + " | ".join(f"{k} tape / PyTorch (diff)" for k in keys) + " | seeds |")
print("| --- |" + " --- |" * (len(keys) + 1))
worst = 0.0
for model in dict.fromkeys(r["model"] for r in ours):
    a = [r for r in ours if r["model"] == model]
    b = [r for r in twins if r["model"] == model]
    if not b:
        continue
    cells = []
    for k in keys:
        if k not in a[0] or k not in b[0]:
            cells.append("—")
            continue
        x, y = statistics.mean(r[k] for r in a), statistics.mean(r[k] for r in b)
        worst = max(worst, abs(x - y))
        cells.append(f"{x:.2f} / {y:.2f} ({x - y:+.2f})")
    print(f"| {model} | " + " | ".join(cells) + f" | {len(a)} / {len(b)} |")
print(f"\nlargest difference: {worst:.2f} nats")
