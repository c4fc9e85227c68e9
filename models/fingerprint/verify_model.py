#!/usr/bin/env python3
"""Checks fingerprint.onnx (run by ONNX Runtime through ../run_onnx_model.js) against fpcore.embed (numpy).

    /usr/bin/python3 models/fingerprint/verify_model.py --dataset DIR [--n 8] [--runs 200]
needs node + onnxruntime-node (NODE_PATH, e.g. `npm install --ignore-scripts onnxruntime-node@1.30.0` in /tmp/fp-ort).
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fpcore  # noqa: E402
from eval import load  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--dataset", required=True)
ap.add_argument("--n", type=int, default=8)
ap.add_argument("--runs", type=int, default=200)
a = ap.parse_args()
rows = list(csv.DictReader(open(os.path.join(a.dataset, "probes.csv"))))[: a.n]
x = np.stack([load(os.path.join(a.dataset, r["image"])) for r in rows]).astype(np.float32)
cells, resp = fpcore.embed(x)
tmp = tempfile.mkdtemp()
x.tofile(os.path.join(tmp, "in.f32"))
env = dict(os.environ, NODE_PATH=os.environ.get("NODE_PATH", "/tmp/fp-ort/node_modules"))
r = subprocess.run(["node", os.path.join(HERE, "..", "run_onnx_model.js"), os.path.join(HERE, "fingerprint.onnx"),
                    os.path.join(tmp, "in.f32"), str(len(x)), os.path.join(tmp, "out"), str(a.runs)],
                   capture_output=True, text=True, env=env, check=True)
oc = np.fromfile(os.path.join(tmp, "out.cells.f32"), np.float32).reshape(cells.shape)
orr = np.fromfile(os.path.join(tmp, "out.response.f32"), np.float32).reshape(resp.shape[0], 1, *resp.shape[1:])[:, 0]
same_kp = []
score_same = []
for k in range(len(x)):
    f1 = fpcore.fingerprint(None, cells[k], resp[k])
    f2 = fpcore.fingerprint(None, oc[k], orr[k])
    same_kp.append(float((f1["pts"].shape == f2["pts"].shape) and np.mean(np.all(f1["pts"] == f2["pts"], 1))))
    score_same.append((fpcore.compare(f1, f1), fpcore.compare(f1, f2)))
print(json.dumps({
    "cells_max_abs_diff": float(np.abs(oc - cells).max()), "cells_max_abs": float(np.abs(cells).max()),
    "response_max_abs_diff": float(np.abs(orr - resp).max()), "response_max_abs": float(np.abs(resp).max()),
    "keypoints_identical_fraction": float(np.mean(same_kp)), "self_scores_numpy_vs_onnx": score_same,
    "ort_timing_1thread": json.loads(r.stdout.strip().splitlines()[-1]) if a.runs else None}))
