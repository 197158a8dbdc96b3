#!/usr/bin/python3
"""int8 dynamic quantization of a bundle's ONNX towers, as a graph rewrite with python3-onnx
(onnxruntime's own quantization tool is not installable here; this writes the same form).

Every MatMul whose second input is a constant float weight W [K, N], and every Gemm with a constant
B (transB 0 or 1, alpha = beta = 1), becomes

    X ─DynamicQuantizeLinear─▶ Xq (uint8), Xs (scale), Xzp (zero point)
    MatMulInteger(Xq, Wq (int8, per-column symmetric), Xzp) ─Cast(float)─▶ Y32
    Y = Y32 × (Xs × Ws[N])            (+ C for a Gemm)

Activation x activation MatMuls (attention scores) stay float. Weights are quantized per output
column, symmetric, to [-127, 127]; activations per tensor, asymmetric uint8, at run time.

  /usr/bin/python3 scripts/bench/backends/quantize.py BUNDLE_DIR
writes BUNDLE_DIR/onnx/vision_model_int8.onnx and text_model_int8.onnx (the names Transformers.js
uses for dtype int8). Speed and accuracy are measured by `npm run bench` (scripts/bench/backends/int8.ts).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def quantize_weight(w):
    """Per-column symmetric int8: w ≈ q * scale[None, :]."""
    scale = np.abs(w).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def rewrite(model):
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    consumers = {}
    for n in g.node:
        for x in n.input:
            consumers[x] = consumers.get(x, 0) + 1
    quantized = {}  # weight name (+ transpose flag) -> (q name, scale name)
    new_nodes, drop_inits, count = [], set(), 0

    def weight(name, transpose):
        key = (name, transpose)
        if key not in quantized:
            w = numpy_helper.to_array(inits[name]).astype(np.float32)
            if transpose:
                w = w.T
            q, s = quantize_weight(w)
            qn, sn = f"{name}_q{'t' if transpose else ''}", f"{name}_scale{'t' if transpose else ''}"
            g.initializer.extend([numpy_helper.from_array(np.ascontiguousarray(q), qn), numpy_helper.from_array(s, sn)])
            quantized[key] = (qn, sn)
        return quantized[key]

    for n in g.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        b = n.input[1] if len(n.input) > 1 else None
        is_matmul = n.op_type == "MatMul" and b in inits and len(inits[b].dims) == 2 and inits[b].data_type == TensorProto.FLOAT
        is_gemm = (n.op_type == "Gemm" and b in inits and inits[b].data_type == TensorProto.FLOAT and attrs.get("transA", 0) == 0
                   and float(attrs.get("alpha", 1.0)) == 1.0 and float(attrs.get("beta", 1.0)) == 1.0)
        if not (is_matmul or is_gemm):
            new_nodes.append(n)
            continue
        count += 1
        x, y = n.input[0], n.output[0]
        base = (n.name or y).replace("/", "_")
        qn, sn = weight(b, is_gemm and attrs.get("transB", 0) == 1)
        if consumers.get(b, 0) <= 1:
            drop_inits.add(b)
        xq, xs, xzp, y32, yf, s = (f"{base}_{k}" for k in ("xq", "xs", "xzp", "y32", "yf", "scale"))
        new_nodes += [
            helper.make_node("DynamicQuantizeLinear", [x], [xq, xs, xzp], name=f"{base}_dql"),
            helper.make_node("MatMulInteger", [xq, qn, xzp], [y32], name=f"{base}_mmi"),
            helper.make_node("Cast", [y32], [yf], to=TensorProto.FLOAT, name=f"{base}_cast"),
            helper.make_node("Mul", [xs, sn], [s], name=f"{base}_scale"),
        ]
        if is_gemm and len(n.input) > 2 and n.input[2]:
            mid = f"{base}_scaled"
            new_nodes += [helper.make_node("Mul", [yf, s], [mid], name=f"{base}_mul"), helper.make_node("Add", [mid, n.input[2]], [y], name=f"{base}_bias")]
        else:
            new_nodes.append(helper.make_node("Mul", [yf, s], [y], name=f"{base}_mul"))
    del g.node[:]
    g.node.extend(new_nodes)
    keep = [i for i in g.initializer if i.name not in drop_inits]
    del g.initializer[:]
    g.initializer.extend(keep)
    # MatMulInteger and DynamicQuantizeLinear are in the default domain since opset 10/11.
    return count


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    onnx_dir = os.path.join(sys.argv[1], "onnx")
    for tower in ("vision_model", "text_model"):
        src, dst = os.path.join(onnx_dir, f"{tower}.onnx"), os.path.join(onnx_dir, f"{tower}_int8.onnx")
        if os.path.exists(dst) and os.path.getmtime(dst) > os.path.getmtime(src):
            print(f"{dst}: up to date")
            continue
        model = onnx.load(src)
        n = rewrite(model)
        onnx.checker.check_model(model)
        onnx.save(model, dst + ".partial")
        os.replace(dst + ".partial", dst)
        print(f"{dst}: {n} MatMul/Gemm quantized, {os.path.getsize(src) / 2**20:.0f} -> {os.path.getsize(dst) / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
