#!/usr/bin/env python3
"""Checks every model in registry.json in ONNX Runtime (through ../run_onnx_model.js) against the numpy twin.

    /usr/bin/python3 models/authentication/verify_models.py [--n 24] [--runs 300]

needs node + onnxruntime-node 1.30 (NODE_PATH, default /tmp/fp-ort/node_modules; install with
`cd /tmp/fp-ort && npm install --ignore-scripts onnxruntime-node@1.30.0`).
For each model: registry sha256 == file sha256; ORT probabilities == features.probabilities (max abs diff
<= 1e-5) on the committed samples plus N fresh held-out captures (random size/colour/JPEG); the samples' verdicts
match samples/expected.json; median single-image latency (1 intra-op thread).
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import build_models as B  # noqa: E402
import features as F  # noqa: E402
import synth  # noqa: E402


def weights_from_onnx(path):
    """Reads the MLP constants back out of the ONNX file, so the twin checks the committed file."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    inits = {i.name.rsplit("_", 1)[0]: numpy_helper.to_array(i) for i in m.graph.initializer}
    return {k: inits[k] for k in ("mu", "inv_sd", "w1", "b1", "w2", "b2")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--runs", type=int, default=300)
    a = ap.parse_args()
    from PIL import Image
    reg = json.load(open(os.path.join(HERE, "registry.json")))
    expected = json.load(open(os.path.join(HERE, "samples", "expected.json")))["samples"]
    env = dict(os.environ, NODE_PATH=os.environ.get("NODE_PATH", "/tmp/fp-ort/node_modules"))
    ok = True
    for e in reg["models"]:
        path = os.path.join(HERE, e["model_file"])
        sha_ok = hashlib.sha256(open(path, "rb").read()).hexdigest() == e["sha256"]
        w = weights_from_onnx(path)
        mine = [s for s in expected if s["model_id"] == e["id"]]
        xs = [np.asarray(Image.open(os.path.join(HERE, "samples", s["file"]))).astype(np.float32) / 255.0
              for s in mine]
        for i in range(a.n):
            img, _ = synth.item_capture(B.SEED + 1, e["id"], 9000 + i // 2, i % 2 == 0)
            xs.append(synth.normalised(img))
        x = np.stack(xs)[:, None].astype(np.float32)
        twin = F.probabilities(x, w)
        tmp = tempfile.mkdtemp()
        x.tofile(os.path.join(tmp, "in.f32"))
        r = subprocess.run(["node", os.path.join(HERE, "..", "run_onnx_model.js"), path, os.path.join(tmp, "in.f32"),
                            str(len(x)), os.path.join(tmp, "out"), str(a.runs)],
                           capture_output=True, text=True, env=env, check=True)
        ort = np.fromfile(os.path.join(tmp, "out.probabilities.f32"), np.float32).reshape(len(x), 2)
        th = e["thresholds"]
        got = B.verdicts(ort[:len(mine), 1], th["not_authentic_max"], th["authentic_min"])
        verdict_ok = all(B.LABELS[v] == s["expected_verdict"] if v >= 0 else s["expected_verdict"] == "inconclusive"
                         for v, s in zip(got, mine))
        diff = float(np.abs(ort - twin).max())
        res = {"model": e["id"], "sha256_matches": sha_ok, "n_images": len(x), "max_abs_diff_vs_twin": diff,
               "sample_verdicts_match": verdict_ok,
               "ort_timing_1thread": json.loads(r.stdout.strip().splitlines()[-1]) if a.runs else None}
        print(json.dumps(res), flush=True)
        ok &= sha_ok and diff <= 1e-5 and verdict_ok
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
