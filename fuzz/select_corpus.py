#!/usr/bin/env python3
"""Picks at most N inputs of a (cmin-minimised) corpus that keep the most coverage, for the
committed corpus the stable replay runs.

usage: select_corpus.py TARGET SRC_DIR DEST_DIR [N=300] [EXCLUDE_LIST]

Runs the built fuzz binary once in libFuzzer's merge mode to learn which edges each input
covers (the merge control file), then chooses greedily: the input adding the most uncovered
edges first, the smaller on a tie. EXCLUDE_LIST names inputs (one path or file name a line) to
leave out, e.g. those the replay test reports failing. DEST_DIR is emptied first.
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "fuzz/target/x86_64-unknown-linux-gnu/release")


def main():
    target, src, dest = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 300
    excluded = set()
    if len(sys.argv) > 5:
        with open(sys.argv[5]) as f:
            excluded = {os.path.basename(line.strip()) for line in f if line.strip()}
    names = sorted(f for f in os.listdir(src) if f not in excluded)
    with tempfile.TemporaryDirectory() as tmp:
        inputs = os.path.join(tmp, "in")
        os.makedirs(inputs)
        for f in names:
            shutil.copy(os.path.join(src, f), inputs)
        ctl = os.path.join(tmp, "control")
        out = os.path.join(tmp, "out")
        os.makedirs(out)
        subprocess.run(
            [os.path.join(BIN, target), "-merge=1", "-detect_leaks=0",
             f"-merge_control_file={ctl}", out, inputs],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        files = []
        cov = {}
        with open(ctl) as f:
            lines = f.read().splitlines()
        count = int(lines[0])
        files = lines[2:2 + count]
        for line in lines[2 + count:]:
            parts = line.split()
            if parts and parts[0] == "COV":
                cov[int(parts[1])] = set(parts[2:])
    sizes = {i: os.path.getsize(os.path.join(src, os.path.basename(p))) for i, p in enumerate(files)}
    covered = set()
    chosen = []
    left = set(cov)
    while left and len(chosen) < n:
        best = max(left, key=lambda i: (len(cov[i] - covered), -sizes[i]))
        gain = len(cov[best] - covered)
        if gain == 0:
            break
        chosen.append(best)
        covered |= cov[best]
        left.discard(best)
    total = set().union(*cov.values()) if cov else set()
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    for i in chosen:
        shutil.copy(os.path.join(src, os.path.basename(files[i])), dest)
    print(f"{target}: {len(chosen)} of {len(names)} inputs keep {len(covered)} of {len(total)} edges"
          f" ({sum(sizes[i] for i in chosen)} bytes)")


if __name__ == "__main__":
    main()
