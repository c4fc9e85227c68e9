#!/usr/bin/env python3
"""Builds the surface-fingerprint embedding model (ONNX, opset 13, IR 7, dynamic batch).

    /usr/bin/python3 models/fingerprint/build_model.py

Writes next to this script (byte-identical on every run: fixed constants, no timestamps, no RNG):

* fingerprint.onnx
    input  "image"    float [N,1,256,256]  gray capture, centre-cropped + area-resized to 256x256, values in [0,1]
    output "cells"    float [N,8,128,128]  oriented-gradient cell map at stride 2 (variant raw128: h = 2x2 average of
                                           the input; channel k = relu of the derivative along angle k*45deg of the
                                           binomial-smoothed h, then a 2x2 stride-1 box = 4x4 px at 256);
                                           descriptors are sampled from it
    output "response" float [N,1,128,128]  keypoint response: (G(1.0) - G(1.6))^2 of h
* fingerprint.json  model id/version, shapes, all pre/post-processing constants, the 1:1 decision threshold
                    (calibrated for FAR 1e-4), score semantics and quality-gate limits. The threshold fields are
                    kept from an existing fingerprint.json (they come from calibrate.py), everything else is
                    regenerated from fpcore.CONFIG.

Every op mirrors fpcore.embed (the numpy reference); verify_model.py (through ../run_onnx_model.js) compares them.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import fpcore  # noqa: E402
from onnx_graph import GraphBuilder  # noqa: E402

OPSET = 13
IR_VERSION = 7
MODEL_ID = "entrupy-surface-fp"
MODEL_VERSION = "1.0.0"


class G(GraphBuilder):
    def pad(self, x, r, mode="reflect"):
        pads = np.array([0, 0, r, r, 0, 0, r, r], np.int64)
        return self.op("Pad", [x, self.const(pads, "pads")], mode=mode)

    def blur(self, x, sigma):
        k = fpcore.gauss_kernel(sigma)
        r = len(k) // 2
        xp = self.pad(x, r)
        h = self.op("Conv", [xp, self.const(k.reshape(1, 1, 1, -1), "gx")])
        return self.op("Conv", [h, self.const(k.reshape(1, 1, -1, 1), "gy")])


def build():
    cfg = fpcore.CONFIG
    g = G()
    x = "image"
    cp, cs = cfg["coarse_pool"], cfg["coarse_sigma"]

    def coarse(t):
        p = g.op("AveragePool", [t], kernel_shape=[cp, cp], strides=[cp, cp])
        up_scales = g.const(np.array([1, 1, cp, cp], np.float32), "scales")
        roi = g.const(np.zeros(0, np.float32), "roi")
        return g.op("Resize", [g.blur(p, cs), roi, up_scales], mode="linear",
                    coordinate_transformation_mode="half_pixel")

    st = cfg["stride"]
    binom = g.const(fpcore.BINOMIAL.reshape(1, 1, 3, 3), "binomial")
    orient = g.const(fpcore.orient_kernels(cfg["n_orient"]), "orient")
    lh = g.op("AveragePool", [x], kernel_shape=[st, st], strides=[st, st], p="half")
    if cfg["variant"] == "lcn256":
        fine = g.op("Conv", [g.pad(x, 1), binom])
        b = g.op("Sub", [fine, coarse(x)], "bandpass")
        var = g.op("Add", [coarse(g.op("Mul", [b, b])), g.const(np.array(cfg["lcn_eps"], np.float32), "eps")])
        l = g.op("Div", [b, g.op("Sqrt", [var])], "lcn")
        lh = g.op("AveragePool", [l], kernel_shape=[st, st], strides=[st, st])
        o = g.op("Relu", [g.op("Conv", [g.pad(l, 1), orient])])
        o = g.op("AveragePool", [o], kernel_shape=[st, st], strides=[st, st])
    elif cfg["variant"] == "raw256":
        fine = g.op("Conv", [g.pad(x, 1), binom])
        o = g.op("Relu", [g.op("Conv", [g.pad(fine, 1), orient])])
        o = g.op("AveragePool", [o], kernel_shape=[st, st], strides=[st, st])
    else:  # raw128
        fine = g.op("Conv", [g.pad(lh, 1), binom])
        o = g.op("Relu", [g.op("Conv", [g.pad(fine, 1), orient])])
    d = g.op("Sub", [g.blur(lh, cfg["det_sigma1"]), g.blur(lh, cfg["det_sigma2"])], "dog")
    g.nodes.append(helper.make_node("Mul", [d, d], ["response"], name="response"))
    oe = g.op("Pad", [o, g.const(np.array([0, 0, 0, 0, 0, 0, 1, 1], np.int64), "pads")], mode="edge")
    g.nodes.append(helper.make_node("AveragePool", [oe], ["cells"], name="cells", kernel_shape=[2, 2], strides=[1, 1]))
    s = cfg["input_size"]
    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, s, s])
    outs = [helper.make_tensor_value_info("cells", TensorProto.FLOAT, ["N", cfg["n_orient"], s // st, s // st]),
            helper.make_tensor_value_info("response", TensorProto.FLOAT, ["N", 1, s // st, s // st])]
    graph = helper.make_graph(g.nodes, "surface_fingerprint", [inp], outs, initializer=g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="entrupy-build_model",
                          producer_version=MODEL_VERSION, ir_version=IR_VERSION)
    m.doc_string = f"{MODEL_ID} {MODEL_VERSION}: cells/response maps for keypoint fingerprints (see fingerprint.json)"
    onnx.checker.check_model(m)
    return m


def main():
    jpath = os.path.join(HERE, "fingerprint.json")
    if os.path.exists(jpath):  # the stored config (chosen variant etc.) is authoritative
        fpcore.CONFIG.update(json.load(open(jpath)).get("config", {}))
    m = build()
    path = os.path.join(HERE, "fingerprint.onnx")
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    old = json.load(open(jpath)) if os.path.exists(jpath) else {}
    cfg = dict(fpcore.CONFIG)
    meta = {
        "model_id": MODEL_ID, "model_version": MODEL_VERSION, "onnx": "fingerprint.onnx", "opset": OPSET,
        "input": {"name": "image", "shape": ["N", 1, cfg["input_size"], cfg["input_size"]], "dtype": "float32",
                  "range": [0.0, 1.0], "preprocess": "gray = 0.299R+0.587G+0.114B (8-bit /255); centre square crop; "
                  "area-average resize to 256 (bilinear if smaller)"},
        "outputs": {"cells": ["N", cfg["n_orient"], 128, 128], "response": ["N", 1, 128, 128]},
        "config": cfg,
        "score": "RANSAC similarity inlier count among mutual-nearest-neighbour descriptor matches; higher = more "
                 "similar; integer 0..max_keypoints; accept when score >= operating_threshold (threshold_far_1e-4 is the "
                 "per-pair FAR 1e-4 point on the calibration set; operating_threshold = calibration impostor max + 3, "
                 "needed for the open-set target with hundreds of items)",
        "threshold_far_1e-4": old.get("threshold_far_1e-4"),
        "threshold_far_1e-3": old.get("threshold_far_1e-3"),
        "operating_threshold": old.get("operating_threshold"),
        "calibration": old.get("calibration"),
        "quality_gate": old.get("quality_gate", fpcore.QUALITY_GATE),
    }
    # VLAD codebook + training mean (from train_codebook.py) as raw little-endian float32 for the C# side.
    for stem, key in (("codebook", "vlad_codebook"), ("vladmean", "vlad_mean")):
        npy = os.path.join(HERE, f"fingerprint.{stem}.npy")
        if os.path.exists(npy):
            arr = np.load(npy).astype("<f4")
            with open(os.path.join(HERE, f"fingerprint.{stem}.f32"), "wb") as f:
                f.write(arr.tobytes())
            meta[key] = {"file": f"fingerprint.{stem}.f32", "shape": list(arr.shape), "dtype": "float32 little-endian"}
    meta["global_vector"] = ("VLAD of the upright descriptors: assign each to the codebook row with max dot product, "
                             "sum residuals per row, signed sqrt, per-row L2, flatten, subtract vlad_mean, L2 "
                             "(inner product = cosine)")
    with open(jpath, "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")
    print(path)


if __name__ == "__main__":
    main()
