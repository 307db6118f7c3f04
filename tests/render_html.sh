#!/bin/sh
# render_html.sh PAGE.html: opens the page in headless Chromium (Debian's
# `chromium`, which `make test` installs when run as root), takes a
# screenshot, and passes when the screenshot is not blank (pixels other
# than the background over a good part of it) and the browser logged no
# console error. Exit 0 passed, 1 failed (why on stdout), 77 no browser.
page=$1
browser=$(command -v chromium || command -v chromium-browser) || { echo "no chromium"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
case $page in /*) ;; *) page=$(pwd)/$page;; esac
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --enable-logging=stderr --v=0 \
    --user-data-dir="$dir/profile" --window-size=1400,2400 --screenshot="$dir/shot.png" "file://$page" \
    > "$dir/log" 2>&1
if [ ! -s "$dir/shot.png" ]; then echo "no screenshot:"; tail -5 "$dir/log"; exit 1; fi
if grep -E 'CONSOLE\(|Uncaught|Failed to load resource' "$dir/log" | grep -v -i 'dbus\|gpu' > "$dir/errors"; then
    echo "console errors:"; head -5 "$dir/errors"; exit 1
fi
/usr/bin/python3 - "$dir/shot.png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, colour = struct.unpack(">IIBB", body[:10])
        assert depth == 8 and colour in (2, 6), (depth, colour)
        bpp = 3 if colour == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw, stride = zlib.decompress(idat), w * bpp
prev, inked = bytearray(stride), 0
for y in range(h):  # undo the PNG filters row by row, count non-white pixels
    f, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = row[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: row[i] = (row[i] + a) & 255
        elif f == 2: row[i] = (row[i] + b) & 255
        elif f == 3: row[i] = (row[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    inked += sum(1 for x in range(0, stride, bpp) if min(row[x:x + 3]) < 200)
    prev = row
share = inked / (w * h)
print(f"    screenshot {w}x{h}: {100 * share:.1f}% of the pixels drawn")
assert share > 0.02, "the page rendered blank"
PY
