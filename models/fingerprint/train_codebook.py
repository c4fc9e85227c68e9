#!/usr/bin/env python3
"""Trains the VLAD codebook + mean used for the global (FAISS) vector, from procedural training surfaces.

    /usr/bin/python3 models/fingerprint/train_codebook.py [--items 90] [--seed 90210]

Research-time only (needs python3-scipy for the surface generator). Deterministic: fixed seed, fixed init.
Writes fingerprint.codebook.npy [C,128] float32 and fingerprint.vladmean.npy [C*128] float32; build_model.py
exports both as raw little-endian float32 files for the C# side.
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fpcore  # noqa: E402
import surfaces  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--items", type=int, default=90)
ap.add_argument("--seed", type=int, default=90210)
ap.add_argument("--centres", type=int, default=16)
a = ap.parse_args()
descs = []
for item in range(a.items):
    _, surf = surfaces.surface(a.seed, item)
    img = surfaces.capture(surf, a.seed, item, 0, size=256, colour=False)
    g = fpcore.normalise(fpcore.to_gray(img))
    descs.append(fpcore.fingerprint(g)["desc"])
x = np.concatenate(descs)
cb = fpcore.kmeans(x, a.centres)
mean = np.mean([fpcore.vlad(d, cb) for d in descs], 0).astype(np.float32)
np.save(os.path.join(HERE, "fingerprint.codebook.npy"), cb)
np.save(os.path.join(HERE, "fingerprint.vladmean.npy"), mean)
print(cb.shape, mean.shape)
