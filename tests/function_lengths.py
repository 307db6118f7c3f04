"""function_lengths.py: every function of the library and the programs
(tensor, autograd, nn, models, examples) is at most 80 lines from its
opening brace to its closing one; prints the longest and any over."""
import glob, re, sys

LIMIT = 80
found = []
for path in sorted(glob.glob("*/*.c") + glob.glob("nn/train/*.c")):
    if path.split("/")[0] not in ("tensor", "autograd", "nn", "models", "examples"):
        continue
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        # a definition: a line at column 0 naming a function, its body's "{" alone at column 0
        if re.match(r"^[A-Za-z_].*\(", lines[i]) and not lines[i].rstrip().endswith(";") and "{" not in lines[i]:
            j = i
            while j < len(lines) and lines[j] != "{" and not lines[j].rstrip().endswith(";"):
                j += 1
            if j < len(lines) and lines[j] == "{":
                k = j
                while k < len(lines) and lines[k] != "}":
                    k += 1
                found.append((k - j + 1, path, lines[i].split("(")[0].split()[-1].lstrip("*")))
                i = k
        i += 1
found.sort(reverse=True)
over = [f for f in found if f[0] > LIMIT]
print(f"    {len(found)} functions; the longest: " + ", ".join(f"{n} {p}:{f}" for n, p, f in found[:3]))
for n, p, f in over:
    print(f"    {p}: {f} is {n} lines (at most {LIMIT})")
sys.exit(1 if over or not found else 0)
