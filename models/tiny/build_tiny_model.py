#!/usr/bin/env python3
"""Builds the tiny ONNX test models used by the Entrupy.Native ONNX Runtime binding tests.

Run with Debian's interpreter (it has python3-onnx and python3-numpy):

    /usr/bin/python3 models/tiny/build_tiny_model.py

Outputs, all next to this script and byte-identical on every run (fixed seed, no timestamps):

* tiny.onnx          input "image" float [N,1,16,16] -> Conv 3x3 (8 filters, pad 1) -> Relu
                     -> GlobalAveragePool -> Flatten = output "pooled" [N,8]
                     -> MatMul [8,8] -> Add [8] = output "embedding" [N,8]
* tiny.weights.json  the same weights as plain JSON, so tests can compute a reference result.
* pair.onnx          inputs "a", "b" float [N,4] -> outputs "sum" = a+b and "product" = a*b
                     (exercises multi-input / multi-output runs).
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 7
SEED = 20261122
HERE = os.path.dirname(os.path.abspath(__file__))


def finish(graph, name):
    model = helper.make_model(
        graph,
        producer_name="entrupy-build-tiny-model",
        producer_version="1",
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    model.ir_version = IR_VERSION
    model.model_version = 1
    model.doc_string = f"Entrupy test model '{name}', built by models/tiny/build_tiny_model.py"
    onnx.checker.check_model(model)
    return model


def build_tiny(rng):
    conv_w = rng.normal(0.0, 0.5, size=(8, 1, 3, 3)).astype(np.float32)
    conv_b = rng.normal(0.0, 0.1, size=(8,)).astype(np.float32)
    fc_w = rng.normal(0.0, 0.5, size=(8, 8)).astype(np.float32)  # [in, out]: pooled @ fc_w
    fc_b = rng.normal(0.0, 0.1, size=(8,)).astype(np.float32)

    nodes = [
        helper.make_node("Conv", ["image", "conv_w", "conv_b"], ["conv"],
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("GlobalAveragePool", ["relu"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["pooled"], axis=1),
        helper.make_node("MatMul", ["pooled", "fc_w"], ["fc"]),
        helper.make_node("Add", ["fc", "fc_b"], ["embedding"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        inputs=[helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 16, 16])],
        outputs=[
            helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 8]),
            helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["N", 8]),
        ],
        initializer=[
            numpy_helper.from_array(conv_w, "conv_w"),
            numpy_helper.from_array(conv_b, "conv_b"),
            numpy_helper.from_array(fc_w, "fc_w"),
            numpy_helper.from_array(fc_b, "fc_b"),
        ],
    )
    weights = {
        "description": "Weights of tiny.onnx. conv_w is [out=8][in=1][3][3], fc_w is [in=8][out=8] (pooled @ fc_w + fc_b).",
        "conv_w": conv_w.tolist(),
        "conv_b": conv_b.tolist(),
        "fc_w": fc_w.tolist(),
        "fc_b": fc_b.tolist(),
    }
    return finish(graph, "tiny"), weights


def build_pair():
    nodes = [
        helper.make_node("Add", ["a", "b"], ["sum"]),
        helper.make_node("Mul", ["a", "b"], ["product"]),
    ]
    graph = helper.make_graph(
        nodes,
        "pair",
        inputs=[
            helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 4]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 4]),
        ],
        outputs=[
            helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["N", 4]),
            helper.make_tensor_value_info("product", TensorProto.FLOAT, ["N", 4]),
        ],
    )
    return finish(graph, "pair")


def write_bytes(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def main():
    rng = np.random.default_rng(SEED)
    tiny, weights = build_tiny(rng)
    write_bytes("tiny.onnx", tiny.SerializeToString())
    # float32 -> Python float is exact, and repr round-trips, so C# parses back the very same float32 values.
    write_bytes("tiny.weights.json", (json.dumps(weights, indent=1, sort_keys=True) + "\n").encode("ascii"))
    write_bytes("pair.onnx", build_pair().SerializeToString())
    print(f"wrote tiny.onnx, tiny.weights.json, pair.onnx to {HERE} (onnx {onnx.__version__}, opset {OPSET}, IR {IR_VERSION})",
          file=sys.stderr)


if __name__ == "__main__":
    main()
