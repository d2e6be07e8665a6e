"""PyTorch side of `deno task bench:runtime` (spawned by `runtime/torch_side.ts`).

Reads a JSON spec on stdin: `{"threads": N, "iters": K, "rows": [ROW, ...]}` with each ROW one of

- `{"id", "kind": "gemm", "n"}`: `a @ b` (forward) and `g @ b.T`, `a.T @ g` (backward), n×n×n;
- `{"id", "kind": "conv", "x": [N,C,H,W], "w": [O,C/g,kh,kw], "strides", "pads", "dilations",
  "groups"}`: conv2d forward, and input + weight gradient (`aten.convolution_backward`);
- `{"id", "kind": "mobilenetv2", "batch"}`: torchvision's mobilenet_v2 with BatchNorm folded into
  the convolutions (random weights, no dropout), forward under `inference_mode`, and a training
  step (zero_grad, forward, cross-entropy, backward, SGD momentum 0.9).

Answers `{"info": {...}, "rows": [{"id", "pass": "forward"|"backward", "ms"}, ...]}` on stdout:
the median of K timed calls after one warm-up (3 for the MobileNetV2 rows, as runtime/bench.ts).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_info import serve  # noqa: E402


def median_ms(fn, iters, warm=1):
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    return ts[(len(ts) - 1) // 2]


def gemm(row, iters):
    import torch

    n = row["n"]
    a, b, g = torch.randn(n, n), torch.randn(n, n), torch.randn(n, n)
    with torch.inference_mode():
        fwd = median_ms(lambda: a @ b, iters)
        bwd = median_ms(lambda: (g @ b.t(), a.t() @ g), iters)
    return [("forward", fwd), ("backward", bwd)]


def conv(row, iters):
    import torch
    import torch.nn.functional as F

    t, l, b, r = row["pads"]
    x = torch.randn(*row["x"])
    w = torch.randn(*row["w"]) * 0.1
    stride, dil, groups = row["strides"], row["dilations"], row["groups"]
    if t == b and l == r:
        padding, pad = [t, l], None
    else:  # asymmetric: explicit pad, as a PyTorch port of the ONNX graph would do
        padding, pad = [0, 0], (l, r, t, b)
    xin = F.pad(x, pad) if pad else x
    with torch.inference_mode():
        y = F.conv2d(xin, w, None, stride, padding, dil, groups)
        dy = torch.randn_like(y)
        fwd = median_ms(lambda: F.conv2d(xin, w, None, stride, padding, dil, groups), iters)
        bwd = median_ms(
            lambda: torch.ops.aten.convolution_backward(
                dy, xin, w, None, stride, padding, dil, False, [0, 0], groups, [True, True, False]
            ),
            iters,
        )
    return [("forward", fwd), ("backward", bwd)]


def folded_mobilenet_v2():
    """torchvision's mobilenet_v2 (random init), each Conv+BN pair folded into one biased Conv."""
    import torch
    import torchvision
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    torch.manual_seed(0)
    net = torchvision.models.mobilenet_v2(weights=None).eval()

    def fold(module):
        names = list(module._modules.keys())
        for i, name in enumerate(names):
            child = module._modules[name]
            if isinstance(child, torch.nn.BatchNorm2d) and i > 0:
                prev = module._modules[names[i - 1]]
                if isinstance(prev, torch.nn.Conv2d):
                    module._modules[names[i - 1]] = fuse_conv_bn_eval(prev, child)
                    module._modules[name] = torch.nn.Identity()
            elif child is not None:
                fold(child)

    fold(net)
    net.classifier[0] = torch.nn.Identity()  # dropout: the ptq-bench network has none
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    for p in net.parameters():
        p.requires_grad_(True)
    return net.train()


def mobilenet(row, iters):
    import torch

    batch = row["batch"]
    net = folded_mobilenet_v2()
    x = torch.randn(batch, 3, 224, 224)
    labels = torch.randint(0, 1000, (batch,))
    with torch.inference_mode():
        fwd = median_ms(lambda: net(x), 3)
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)

    def step():
        opt.zero_grad(set_to_none=False)
        torch.nn.functional.cross_entropy(net(x), labels).backward()
        opt.step()

    return [("forward", fwd), ("backward", median_ms(step, 3))]


KINDS = {"gemm": gemm, "conv": conv, "mobilenetv2": mobilenet}


def run(spec, log):
    import torch

    torch.manual_seed(0)
    iters = int(spec.get("iters", 5))
    out = []
    for row in spec.get("rows", []):
        kind = KINDS.get(row.get("kind"))
        if kind is None:
            out.append({"id": row.get("id"), "error": f"unknown row kind {row.get('kind')!r}"})
            continue
        for pass_, ms in kind(row, iters):
            log(f"  {row['id']} {pass_} pytorch: {ms:.2f} ms")
            out.append({"id": row["id"], "pass": pass_, "ms": round(ms, 3)})
    return out


if __name__ == "__main__":
    sys.exit(serve(run))
