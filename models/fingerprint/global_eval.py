#!/usr/bin/env python3
"""Measures the global (VLAD) vector as a FAISS pre-filter: recall of the true item among the top-k by cosine.

    /usr/bin/python3 models/fingerprint/global_eval.py --dataset DIR
"""
import argparse
import csv
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fpcore  # noqa: E402
from eval import load  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--dataset", required=True)
a = ap.parse_args()
cb = np.load(os.path.join(HERE, "fingerprint.codebook.npy"))
mean = np.load(os.path.join(HERE, "fingerprint.vladmean.npy"))
gal = list(csv.DictReader(open(os.path.join(a.dataset, "gallery.csv"))))
prb = [r for r in csv.DictReader(open(os.path.join(a.dataset, "probes.csv"))) if r["item_id"]]
items = sorted({r["item_id"] for r in gal})


def vec(r):
    f = fpcore.fingerprint(load(os.path.join(a.dataset, r["image"])))
    return fpcore.vlad(f["desc"], cb, mean)


G = np.stack([vec(r) for r in gal])
gi = np.array([items.index(r["item_id"]) for r in gal])
P = np.stack([vec(r) for r in prb])
pi = np.array([items.index(r["item_id"]) for r in prb])
S = P @ G.T
rank = (S > S[np.arange(len(P)), np.searchsorted(gi, pi)][:, None]).sum(1)  # 0 = top-1 (one capture per item)
out = {"probes": len(P), "items": len(items), "dim": int(G.shape[1])}
for k in (1, 5, 10, 20, 50):
    out[f"recall@{k}"] = float((rank < k).mean())
out["genuine_cos_median"] = float(np.median(S[np.arange(len(P)), np.searchsorted(gi, pi)]))
m = np.ones_like(S, bool)
m[np.arange(len(P)), np.searchsorted(gi, pi)] = False
out["impostor_cos_p99.9"] = float(np.percentile(S[m], 99.9))
print(json.dumps(out))
