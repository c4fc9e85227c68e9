"""The small ONNX graph builder both model build scripts use (fingerprint/build_model.py,
authentication/build_models.py). Node and initializer names are numbered in creation order, so a script that builds
the same graph gets a byte-identical model."""

import numpy as np
from onnx import helper, numpy_helper


class GraphBuilder:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, p):
        self.n += 1
        return f"{p}_{self.n}"

    def const(self, arr, p="c"):
        nm = self.name(p)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), nm))
        return nm

    def op(self, typ, inputs, p=None, out=None, **attrs):
        o = out or self.name(p or typ.lower())
        self.nodes.append(helper.make_node(typ, inputs, [o], name=o, **attrs))
        return o
