#!/usr/bin/env python3
"""Compares two `convergent compare` output directories: summary.json with the
version and input paths left out (options compared on their shared keys, new
keys listed) and every .npy byte for byte. Exit 1 on any difference.

  /usr/bin/python3 tools/diff_results.py OLD_DIR NEW_DIR

Used to show that a refactor leaves the bundled example's results unchanged."""
import json
import os
import sys


def files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def main(a, b):
    ja = json.load(open(os.path.join(a, "summary.json")))
    jb = json.load(open(os.path.join(b, "summary.json")))
    for j in (ja, jb):
        j.pop("convergent_version", None)
        j.pop("inputs", None)
    oa, ob = ja.pop("options"), jb.pop("options")
    ok = True
    changed = {k: (oa[k], ob.get(k)) for k in oa if oa[k] != ob.get(k)}
    print("options: changed", changed, "; new", {k: ob[k] for k in ob if k not in oa})
    ok &= not changed
    same = ja == jb
    print("summary.json otherwise identical:", same)
    ok &= same
    fa, fb = files(a), files(b)
    print("same files:", fa == fb, f"({len(fa)})")
    ok &= fa == fb
    differ = [f for f in fa if f.endswith(".npy") and f in fb and
              open(os.path.join(a, f), "rb").read() != open(os.path.join(b, f), "rb").read()]
    print("differing .npy:", differ[:10])
    ok &= not differ
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
