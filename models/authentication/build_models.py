#!/usr/bin/env python3
"""Builds the authentication models (one ONNX file per brand+material), registry.json, samples and metrics.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 models/authentication/build_models.py [--cache DIR]

For each model id in synth.SPECS:
1. synthesises a dataset (synth.py: genuine vs counterfeit surfaces, imaged by the fingerprint capture
   simulator with the "spec" distortion profile, normalised like docs/fingerprinting-research.md 6.1):
   train items 0..499, validation items 2000..2149, held-out test items 5000..5299, each item once genuine and
   once counterfeit (independent surfaces);
2. computes the fixed features (features.py), trains a tiny MLP with full-batch Adam in numpy (fixed seed);
3. picks the inconclusive band [not_authentic_max, authentic_min] on P(authentic) using the validation split
   only: the band (0.005 grid) with the lowest inconclusive rate whose decided-case accuracy on validation
   is >= TARGET_DECIDED_ACCURACY (ties: the narrower band);
4. evaluates once on the held-out test split; writes <id>.onnx (opset 13, IR 7), registry.json, metrics.json
   and per model one genuine + one counterfeit 256x256 gray PNG sample capture with the numpy twin's verdicts.

Output is byte-identical on every run (fixed seeds, no timestamps, single-threaded BLAS). --cache only keeps the
synthesised normalised images in DIR to speed up development reruns; it does not change any output.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # deterministic reduction order
import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import features as F  # noqa: E402
from onnx_graph import GraphBuilder  # noqa: E402
import synth  # noqa: E402

OPSET = 13
IR_VERSION = 7
VERSION = "1.0.0"
SEED = 20261122
SPLITS = {"train": range(0, 500), "validation": range(2000, 2150), "test": range(5000, 5300)}
HIDDEN = 8
TARGET_DECIDED_ACCURACY = 0.95
WEIGHT_DECAY = 1e-2  # strong L2 + few steps: the features overfit a 1000-image training set quickly
ITERATIONS = 800
LABELS = ["not_authentic", "authentic"]


# ------------------------------------------------------------------------------------------------ data
def dataset(model_id, split, cache):
    path = os.path.join(cache, f"{model_id}-{split}.npz") if cache else None
    if path and os.path.exists(path):
        d = np.load(path)
        return d["x"], d["y"]
    xs, ys = [], []
    for item in SPLITS[split]:
        for authentic in (True, False):
            img, _ = synth.item_capture(SEED, model_id, item, authentic)
            xs.append(synth.normalised(img))
            ys.append(1 if authentic else 0)
    x, y = np.stack(xs)[:, None].astype(np.float32), np.array(ys, np.int64)
    if path:
        os.makedirs(cache, exist_ok=True)
        np.savez(path, x=x, y=y)
    return x, y


def batched_features(x):
    return np.concatenate([F.features(x[i:i + 50]) for i in range(0, len(x), 50)])


# ------------------------------------------------------------------------------------------------ training
def train(f, y, seed):
    mu = f.mean(axis=0)
    sd = f.std(axis=0) + 1e-6
    z = (f - mu) / sd
    rng = np.random.default_rng(seed)
    d = z.shape[1]
    p = {"w1": rng.standard_normal((d, HIDDEN)) * np.sqrt(2.0 / d), "b1": np.zeros(HIDDEN),
         "w2": rng.standard_normal((HIDDEN, 2)) * np.sqrt(1.0 / HIDDEN), "b2": np.zeros(2)}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(v) for k, v in p.items()}
    onehot = np.eye(2)[y]
    lr, b1, b2, wd = 0.01, 0.9, 0.999, WEIGHT_DECAY
    for it in range(1, ITERATIONS + 1):
        a = z @ p["w1"] + p["b1"]
        h = np.maximum(a, 0)
        lo = h @ p["w2"] + p["b2"]
        lo -= lo.max(axis=1, keepdims=True)
        pr = np.exp(lo)
        pr /= pr.sum(axis=1, keepdims=True)
        g_lo = (pr - onehot) / len(y)
        g = {"w2": h.T @ g_lo + wd * p["w2"], "b2": g_lo.sum(axis=0)}
        g_h = (g_lo @ p["w2"].T) * (a > 0)
        g["w1"] = z.T @ g_h + wd * p["w1"]
        g["b1"] = g_h.sum(axis=0)
        for k in p:
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
            p[k] -= lr * (m[k] / (1 - b1 ** it)) / (np.sqrt(v[k] / (1 - b2 ** it)) + 1e-8)
    # Stored as float32: the ONNX graph and the twin both use exactly these values.
    w = {"mu": mu, "inv_sd": 1.0 / sd, **p}
    return {k: np.asarray(val, np.float32) for k, val in w.items()}


def verdicts(p_auth, lo, hi):
    """1 = authentic, 0 = not authentic, -1 = inconclusive (p strictly between the thresholds)."""
    return np.where(p_auth >= hi, 1, np.where(p_auth <= lo, 0, -1))


def choose_thresholds(p_auth, y):
    grid = np.round(np.arange(1, 200) * 0.005, 3)
    best = None
    for i, lo in enumerate(grid):
        for hi in grid[i + 1:]:
            v = verdicts(p_auth, lo, hi)
            dec = v >= 0
            if not dec.any():
                continue
            acc = (v[dec] == y[dec]).mean()
            key = (1 - dec.mean(), hi - lo)
            if acc >= TARGET_DECIDED_ACCURACY and (best is None or key < best[0]):
                best = (key, float(lo), float(hi))
    if best is None:
        raise SystemExit(f"no band reaches {TARGET_DECIDED_ACCURACY} decided accuracy on validation")
    return best[1], best[2]


def cue_breakdown(model_id, split, p_auth, y, lo, hi):
    """Verdicts on the split's counterfeits grouped by cue: any counterfeit carrying it, and those with only it."""
    v = verdicts(p_auth, lo, hi)
    cues = [synth.item_cues(SEED, model_id, item, bool(a)) for item in SPLITS[split] for a in (True, False)]
    out = {}
    for c in synth.CUES:
        for kind, sel in (("with", [c in cs for cs in cues]), ("only", [cs == [c] for cs in cues])):
            m = np.array(sel) & (y == 0)
            if m.any():
                out[f"{kind}_{c}"] = {"n": int(m.sum()),
                                      "rejected_as_not_authentic": round(float((v[m] == 0).mean()), 4),
                                      "inconclusive": round(float((v[m] == -1).mean()), 4),
                                      "accepted_as_authentic": round(float((v[m] == 1).mean()), 4)}
    return out


def metrics(p_auth, y, lo, hi):
    v = verdicts(p_auth, lo, hi)
    dec = v >= 0
    raw = (p_auth >= 0.5).astype(int)
    conf = {f"true_{LABELS[t]}": {**{f"predicted_{LABELS[q]}": int(((y == t) & (v == q)).sum()) for q in (0, 1)},
                                  "inconclusive": int(((y == t) & (v == -1)).sum())} for t in (0, 1)}
    return {
        "n": int(len(y)),
        "accuracy_at_0_5_no_band": round(float((raw == y).mean()), 4),
        "accuracy_on_decided": round(float((v[dec] == y[dec]).mean()), 4) if dec.any() else None,
        "inconclusive_rate": round(float(1 - dec.mean()), 4),
        "counterfeits_accepted_as_authentic": round(float(((y == 0) & (v == 1)).sum() / max(1, (y == 0).sum())), 4),
        "genuine_rejected_as_not_authentic": round(float(((y == 1) & (v == 0)).sum() / max(1, (y == 1).sum())), 4),
        "confusion": conf,
    }


# ------------------------------------------------------------------------------------------------ ONNX export
class G(GraphBuilder):
    def f(self, v, p="k"):
        return self.const(np.array(v, np.float32), p)

    def mean(self, x, axes, keep):
        # Mean over H and W as two short reductions: ORT accumulates a reduction sequentially in float32, and one
        # 16k-element sum drifts by ~1e-5 relative from the numpy twin (pairwise summation).
        if axes == [2, 3]:
            x = self.op("ReduceMean", [x], axes=[3], keepdims=1)
        return self.op("ReduceMean", [x], axes=axes, keepdims=keep)

    def col(self, x, i):
        return self.op("Gather", [x, self.const(np.array([i], np.int64), "idx")], axis=1)

    def log_eps(self, x):
        return self.op("Log", [self.op("Add", [x, self.f(F.EPS, "eps")])])


def build_graph(w, model_id, lo, hi):
    g = G()
    pool = dict(kernel_shape=[2, 2], strides=[2, 2])
    h = g.op("AveragePool", ["image"], **pool)
    c0 = g.op("Sub", [h, g.mean(h, [2, 3], 1)])
    var0k = g.mean(g.op("Mul", [c0, c0]), [2, 3], 1)
    var0 = g.op("Flatten", [var0k], axis=1)
    lvar = g.log_eps(var0)
    feats = []
    kern = g.const(F.KERNELS, "kern")
    lev = h
    for k in range(F.LEVELS):
        r = g.op("Conv", [lev, kern], kernel_shape=[3, 3])
        r2 = g.op("Mul", [r, r])
        e = g.mean(r2, [2, 3], 0)
        q = g.mean(g.op("Mul", [r2, r2]), [2, 3], 0)
        le = g.log_eps(e)
        le0 = g.col(le, 0)
        feats.append(g.op("Sub", [le0, lvar]))
        feats.append(g.op("Sub", [g.log_eps(g.op("Add", [g.col(e, 1), g.col(e, 2)])), lvar]))
        feats.append(g.op("Sub", [g.col(le, 1), g.col(le, 2)]))
        feats.append(g.op("Sub", [g.log_eps(g.col(q, 0)), g.op("Mul", [g.f(2.0), le0])]))
        if k + 1 < F.LEVELS:
            lev = g.op("AveragePool", [lev], **pool)
    inv_sd = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [var0k, g.f(F.EPS, "eps")])])])
    z = g.op("Mul", [c0, inv_sd])
    z2 = g.op("Mul", [z, z])
    feats.append(g.mean(g.op("Mul", [z2, z]), [2, 3], 0))
    feats.append(g.mean(g.op("Mul", [z2, z2]), [2, 3], 0))
    # spectrum of 4 Hann-windowed 64x64 tiles
    t = g.op("Reshape", [h, g.const(np.array([-1, 2, F.TILE, 2, F.TILE], np.int64), "shape")])
    t = g.op("Transpose", [t], perm=[0, 1, 3, 2, 4])
    t = g.op("Reshape", [t, g.const(np.array([-1, 4, F.TILE, F.TILE], np.int64), "shape")])
    t = g.op("Mul", [g.op("Sub", [t, g.mean(t, [2, 3], 1)]), g.const(F.hann(), "hann")])
    rc, rs, cc, cs = [g.const(m, nm) for m, nm in zip(F.dft_mats(), ("dft_rc", "dft_rs", "dft_cc", "dft_cs"))]
    a = g.op("MatMul", [rc, t])
    b = g.op("MatMul", [rs, t])
    re = g.op("Sub", [g.op("MatMul", [a, cc]), g.op("MatMul", [b, cs])])
    im = g.op("Add", [g.op("MatMul", [b, cc]), g.op("MatMul", [a, cs])])
    p = g.mean(g.op("Add", [g.op("Mul", [re, re]), g.op("Mul", [im, im])]), [1], 1)
    masks, allm = F.band_masks()
    frac = masks.reshape(len(F.BANDS), -1).mean(axis=1).astype(np.float32)
    pm = g.op("Mul", [p, g.const(masks, "bands")])
    pmax = g.op("ReduceMax", [pm], axes=[2, 3], keepdims=0)
    pmean = g.op("Div", [g.mean(pm, [2, 3], 0), g.const(frac, "frac")])
    pall = g.op("Div", [g.mean(g.op("Mul", [p, g.const(allm, "allband")]), [2, 3], 0), g.f(allm.mean(), "frac")])
    lmean = g.log_eps(pmean)
    feats.append(g.op("Sub", [g.log_eps(pmax), lmean]))
    feats.append(g.op("Sub", [lmean, g.log_eps(pall)]))
    fv = g.op("Concat", feats, axis=1, p="features")
    zf = g.op("Mul", [g.op("Sub", [fv, g.const(w["mu"], "mu")]), g.const(w["inv_sd"], "inv_sd")])
    hd = g.op("Relu", [g.op("Add", [g.op("MatMul", [zf, g.const(w["w1"], "w1")]), g.const(w["b1"], "b1")])])
    lo_ = g.op("Add", [g.op("MatMul", [hd, g.const(w["w2"], "w2")]), g.const(w["b2"], "b2")])
    g.op("Softmax", [lo_], axis=1, out="probabilities")
    graph = helper.make_graph(
        g.nodes, f"authentication_{model_id.replace('-', '_')}",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 256, 256])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2])], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="entrupy-authentication-build", producer_version=VERSION)
    model.ir_version = IR_VERSION
    model.doc_string = (f"{model_id} authentication model trained on SYNTHETIC data only. probabilities = softmax "
                        f"[not_authentic, authentic]; authentic if p>={hi}, not_authentic if p<={lo}, "
                        "else inconclusive.")
    for k, v in (("model_id", model_id), ("labels", ",".join(LABELS)), ("authentic_min", str(hi)),
                 ("not_authentic_max", str(lo)), ("version", VERSION)):
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    return model


# ------------------------------------------------------------------------------------------------ main
def sha256(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def write_samples(model_id, w, lo, hi, out_dir):
    """One genuine + one counterfeit held-out capture (256x256 gray PNG) whose verdict is clear of the thresholds."""
    from PIL import Image
    picked, rows = {1: 0, 0: 0}, []
    for item in SPLITS["test"]:
        for authentic in (1, 0):
            if picked[authentic] >= 1:
                continue
            surf, cues = synth.item_surface(SEED, model_id, item, bool(authentic))
            img = synth.surfaces.capture(surf, SEED * 2 + authentic, item, 7, "spec", size=256, colour=False)
            x = (img.astype(np.float32) / 255.0)[None, None]
            pa = float(F.probabilities(x, w)[0, 1])
            v = int(verdicts(np.array([pa]), lo, hi)[0])
            if v != authentic or min(abs(pa - lo), abs(pa - hi)) < 0.05:
                continue
            picked[authentic] += 1
            name = f"{model_id}-{'genuine' if authentic else 'counterfeit'}-{item}.png"
            Image.fromarray(img).save(os.path.join(out_dir, name), format="PNG", optimize=False)
            rows.append({"file": name, "model_id": model_id, "truth": LABELS[authentic],
                         "cues": cues, "p_authentic": round(pa, 6), "expected_verdict": LABELS[v]})
        if picked[0] >= 1 and picked[1] >= 1:
            break
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=None)
    ap.add_argument("--only", default=None, help="development: build just this model id (registry lists only it)")
    a = ap.parse_args()
    sample_dir = os.path.join(HERE, "samples")
    os.makedirs(sample_dir, exist_ok=True)
    if not a.only:  # samples are rewritten in full: drop ones a previous version picked
        for fn in sorted(os.listdir(sample_dir)):
            if fn.endswith(".png"):
                os.remove(os.path.join(sample_dir, fn))
    registry, all_metrics, samples = [], {}, []
    for model_id, spec in synth.SPECS.items():
        if a.only and model_id != a.only:
            continue
        data = {s: dataset(model_id, s, a.cache) for s in SPLITS}
        feats = {s: batched_features(data[s][0]) for s in SPLITS}
        w = train(feats["train"], data["train"][1], SEED)
        pa = {s: F.mlp(feats[s], w)[:, 1] for s in SPLITS}
        lo, hi = choose_thresholds(pa["validation"], data["validation"][1])
        met = {s: metrics(pa[s], data[s][1], lo, hi) for s in SPLITS}
        met["test"]["counterfeits_by_cue"] = cue_breakdown(model_id, "test", pa["test"], data["test"][1], lo, hi)
        model = build_graph(w, model_id, lo, hi)
        fn = f"{model_id}.onnx"
        onnx.save(model, os.path.join(HERE, fn))
        all_metrics[model_id] = met
        registry.append({
            "id": model_id, "brand": spec["brand"], "material": spec["material"], "model_file": fn,
            "sha256": sha256(os.path.join(HERE, fn)), "version": VERSION,
            "input": {"name": "image", "shape": ["N", 1, 256, 256], "type": "float32",
                      "normalisation": "gray, centre square crop, area-resize to 256 (docs/fingerprinting-research.md 6.1), [0,1]"},
            "output": {"name": "probabilities", "shape": ["N", 2], "labels": LABELS},
            "thresholds": {"authentic_min": hi, "not_authentic_max": lo,
                           "rule": "authentic if p_authentic >= authentic_min; not_authentic if p_authentic <= "
                                   "not_authentic_max; otherwise inconclusive"},
            "training_data": "SYNTHETIC ONLY - says nothing about real counterfeits",
            "metrics": {"split": "test (held-out synthetic)", **{k: met["test"][k] for k in (
                "n", "accuracy_at_0_5_no_band", "accuracy_on_decided", "inconclusive_rate")}},
        })
        samples += write_samples(model_id, w, lo, hi, sample_dir)
        # Raw feature/test dump is not committed; print a summary for the build log.
        print(model_id, "thresholds", lo, hi, json.dumps(met["test"]), flush=True)
    with open(os.path.join(HERE, "registry.json"), "w") as fh:
        json.dump({"schema": 1, "models": registry}, fh, indent=2)
        fh.write("\n")
    with open(os.path.join(HERE, "metrics.json"), "w") as fh:
        json.dump({"target_decided_accuracy_on_validation": TARGET_DECIDED_ACCURACY, "seed": SEED,
                   "splits": {k: [v.start, v.stop] for k, v in SPLITS.items()}, "models": all_metrics}, fh, indent=2)
        fh.write("\n")
    with open(os.path.join(sample_dir, "expected.json"), "w") as fh:
        json.dump({"note": "256x256 gray PNG captures of held-out synthetic items; input = pixel/255 (no resize); "
                           "p_authentic and verdicts from the numpy twin (features.py)", "samples": samples},
                  fh, indent=2)
        fh.write("\n")


if __name__ == "__main__":
    main()
