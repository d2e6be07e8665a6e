"""PyTorch side of `deno task bench:recon` (spawned by `runtime/torch_side.ts` through
`methods/torch_recon_side.ts`): an equivalent QDrop reconstruction iteration on the same units.

Reads `{"threads": N, "groups": [{"settings": {...}, "units": [UNIT, ...]}, ...]}` on stdin; each
UNIT is a `TorchUnitSpec` of `methods/torch_recon_side.ts` (the unit's Conv / Clip / Add nodes with
their shapes, weight bits, int32-grid biases and activation quantizer bits). Answers
`{"info": {...}, "rows": [{"id", "median_s", "iterations_s"}, ...]}`: the median seconds of
iterations 2..iters, as ptq-bench's bench (its first logged iteration is not timed).

One iteration (the `step` of ptq-bench's `methods/_quant/recon_unit.ts`):
1. a batch of `batch` rows gathered by random indices from the cached quantized and FP inputs;
2. QDrop's input mix: each element the quantized input with `inputMixProb`, else the FP one;
3. the unit with AdaRound soft weights w_q = s·(clamp(floor(w/s) + h(V) + zp, 0, 2^b − 1) − zp),
   h(V) = clamp(sigmoid(V)·1.2 − 0.1, 0, 1) (per output channel s, zp), biases on the int32 grid
   s_x·s_w where the spec says, and after each quantized activation LSQ fake-quant
   (clamp(round_ste(x/s) + zp, 0, 2^b − 1) − zp)·s with a learnable step s, each element left
   float with `dropProb` (QDrop's drop);
4. loss Σ(out − target)² / (size / C) + λ Σ(1 − |2h(V) − 1|^β) after the warm-up (β linear);
5. backward, Adam on V (lr `weightLr`), Adam on the steps (lr `actLr`, cosine to 0), zero_grad,
   and the loss read back (`.item()`).
"""
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runtime"))
from torch_info import serve  # noqa: E402


def beta_at(it, s):
    start = s["warmup"] * s["iters"]
    if it < start:
        return s["betaStart"]
    rel = (it - start) / max(s["iters"] - start, 1)
    return s["betaEnd"] + (s["betaStart"] - s["betaEnd"]) * max(0.0, 1 - rel)


def conv_padding(node, in_hw):
    """PyTorch padding for the node's ONNX pads: symmetric where the output shape allows it."""
    t, l, b, r = node["pads"]
    if t == b and l == r:
        return [t, l], None
    k = node["w"][2:]
    st, dl = node["strides"], node["dilations"]

    def out(n, lo, hi, i):
        return (n + lo + hi - dl[i] * (k[i] - 1) - 1) // st[i] + 1

    sym = [(k[i] - 1) * dl[i] // 2 for i in range(2)]
    if all(out(in_hw[i], [t, l][i], [b, r][i], i) == out(in_hw[i], sym[i], sym[i], i) for i in range(2)):
        return sym, None  # TF "SAME" written asymmetrically: torchvision's symmetric padding
    return [0, 0], (l, r, t, b)


class Unit:
    """The unit's parameters and quantizers (random weights, min-max ranges)."""

    def __init__(self, spec, settings, gen):
        import torch

        self.spec, self.s = spec, settings
        n = settings["images"]
        self.inputs_fp, self.inputs_q = {}, {}
        for name, shape in spec["inputs"].items():
            if name in spec["quantizedInputs"]:
                x = torch.rand(n, *shape, generator=gen) * 6
                bits = spec["quantizedInputs"][name]
                step = 6 / (2**bits - 1)
                self.inputs_fp[name] = x
                self.inputs_q[name] = torch.round(x / step).clamp(0, 2**bits - 1) * step
                self.in_step = step
            else:
                x = torch.randn(n, *shape, generator=gen)
                self.inputs_fp[name], self.inputs_q[name] = x, x
        self.in_steps = {
            name: 6 / (2**bits - 1) for name, bits in spec["quantizedInputs"].items()
        }
        self.convs = {}
        shapes = {k: list(v) for k, v in spec["inputs"].items()}
        for i, nd in enumerate(spec["nodes"]):
            if nd["op"] == "conv":
                o, cin_g, kh, kw = nd["w"]
                fan_in = cin_g * kh * kw
                w = torch.randn(*nd["w"], generator=gen) * math.sqrt(2 / fan_in)
                bias = torch.randn(o, generator=gen) * 0.1 if nd["bias"] else None
                in_shape = shapes[nd["in"]]
                padding, pad = conv_padding(nd, in_shape[1:])
                c = {"w": w, "b": bias, "padding": padding, "pad": pad, "node": nd}
                if nd["wBits"]:
                    qmax = 2 ** nd["wBits"] - 1
                    flat = w.reshape(o, -1)
                    lo = flat.min(1).values.clamp(max=0)
                    hi = flat.max(1).values.clamp(min=0)
                    scale = ((hi - lo) / qmax).clamp(min=1e-8)
                    zp = torch.round(-lo / scale).clamp(0, qmax)
                    c["scale"], c["zp"], c["qmax"] = scale.view(-1, 1, 1, 1), zp.view(-1, 1, 1, 1), qmax
                    frac = (w / c["scale"]) - torch.floor(w / c["scale"])
                    # AdaRound's init: h(V) = frac(w / s)
                    v = -torch.log((1.2 - 0.1) / (frac.clamp(0.01, 0.99) + 0.1) - 1)
                    c["v"] = v.clone().requires_grad_(True)
                self.convs[i] = c
                hw = in_shape[1:]
                p = padding if pad is None else [pad[2] + pad[3], pad[0] + pad[1]]
                tot = [2 * p[0], 2 * p[1]] if pad is None else p
                out_hw = [
                    (hw[j] + tot[j] - nd["dilations"][j] * (nd["w"][2 + j] - 1) - 1) // nd["strides"][j] + 1
                    for j in range(2)
                ]
                shapes[nd["out"]] = [o] + out_hw
            elif nd["op"] == "clip":
                shapes[nd["out"]] = shapes[nd["in"]]
            else:
                shapes[nd["out"]] = shapes[nd["a"]]
        # FP targets on the FP inputs, then the activation ranges (min-max) from an FP pass.
        with torch.no_grad():
            vals = self.forward(self.inputs_fp, quant=False, keep=True)
        self.target = vals[spec["output"]]
        self.acts = {}
        for value, bits in spec["acts"].items():
            x = vals[value]
            qmax = 2**bits - 1
            lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
            step = max((hi - lo) / qmax, 1e-8)
            self.acts[value] = {
                "step": torch.tensor(step).requires_grad_(True),
                "zp": float(min(max(round(-lo / step), 0), qmax)),
                "qmax": qmax,
            }
        self.vs = [c["v"] for c in self.convs.values() if "v" in c]
        self.steps = [a["step"] for a in self.acts.values()]

    def weight(self, c):
        import torch

        if "v" not in c:
            return c["w"]
        h = torch.clamp(torch.sigmoid(c["v"]) * 1.2 - 0.1, 0, 1)
        q = torch.clamp(torch.floor(c["w"] / c["scale"]) + h + c["zp"], 0, c["qmax"])
        return c["scale"] * (q - c["zp"])

    def bias(self, c, steps):
        import torch

        b = c["b"]
        nd = c["node"]
        if b is None or not nd["intBias"] or "v" not in c:
            return b
        sx = steps.get(nd["in"])
        if sx is None:
            return b
        s = sx.detach() * c["scale"].view(-1)
        return torch.clamp(torch.round(b / s), -2147483648.0, 2147483520.0) * s

    def fake_quant(self, value, x, drop):
        import torch

        a = self.acts[value]
        s = a["step"]
        y = x / s
        y = y + (torch.round(y) - y).detach()  # straight-through round
        y = (torch.clamp(y + a["zp"], 0, a["qmax"]) - a["zp"]) * s
        if drop > 0:
            y = torch.where(torch.rand_like(x) < drop, x, y)
        return y

    def forward(self, feeds, quant=True, drop=0.0, keep=False):
        import torch
        import torch.nn.functional as F

        env = dict(feeds)
        steps = {k: a["step"] for k, a in self.acts.items()} if quant else {}
        if quant:
            for k in self.spec["quantizedInputs"]:
                steps.setdefault(k, torch.tensor(self.in_steps[k]))
        for i, nd in enumerate(self.spec["nodes"]):
            if nd["op"] == "conv":
                c = self.convs[i]
                x = env[nd["in"]]
                if c["pad"] is not None:
                    x = F.pad(x, c["pad"])
                w = self.weight(c) if quant else c["w"]
                b = self.bias(c, steps) if quant else c["b"]
                y = F.conv2d(x, w, b, nd["strides"], c["padding"], nd["dilations"], nd["groups"])
            elif nd["op"] == "clip":
                y = torch.clamp(env[nd["in"]], nd["min"], nd["max"] if nd["max"] is not None else None)
            else:
                y = env[nd["a"]] + env[nd["b"]]
            if quant and nd["out"] in self.acts:
                y = self.fake_quant(nd["out"], y, drop)
            env[nd["out"]] = y
        return env if keep else env[self.spec["output"]]


def run_unit(unit, log):
    import torch

    s = unit.s
    opt_w = torch.optim.Adam(unit.vs, lr=s["weightLr"])
    opt_a = torch.optim.Adam(unit.steps, lr=s["actLr"]) if unit.steps else None
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt_a, T_max=s["iters"], eta_min=0) if opt_a else None
    n = s["images"]
    stamps = []
    for it in range(s["iters"]):
        idx = torch.randperm(n)[: min(s["batch"], n)]
        q_in = {k: v.index_select(0, idx) for k, v in unit.inputs_q.items()}
        f_in = {k: v.index_select(0, idx) for k, v in unit.inputs_fp.items()}
        p = s["inputMixProb"]
        if p <= 0:
            mixed = f_in
        elif p < 1:
            mixed = {k: torch.where(torch.rand_like(v) < p, v, f_in[k]) for k, v in q_in.items()}
        else:
            mixed = q_in
        out = unit.forward(mixed, quant=True, drop=s["dropProb"])
        tgt = unit.target.index_select(0, idx)
        rec = (out - tgt).pow(2).sum() / (out.numel() / out.shape[1])
        total = rec
        if it >= s["warmup"] * s["iters"]:
            beta = beta_at(it, s)
            for c in unit.convs.values():
                if "v" in c:
                    h = torch.clamp(torch.sigmoid(c["v"]) * 1.2 - 0.1, 0, 1)
                    total = total + s["lambda"] * (1 - (2 * h - 1).abs().pow(beta)).sum()
        total.backward()
        opt_w.step()
        if opt_a:
            opt_a.step()
            sched.step()
        opt_w.zero_grad()
        if opt_a:
            opt_a.zero_grad()
        rec.item()
        stamps.append(time.perf_counter())
    its = [b - a for a, b in zip(stamps, stamps[1:])]
    srt = sorted(its)
    return its, (srt[len(srt) // 2] if srt else float("nan"))


def run(spec, log):
    import torch

    rows = []
    for group in spec.get("groups", []):
        s = group["settings"]
        for u in group["units"]:
            gen = torch.Generator().manual_seed(0)
            torch.manual_seed(0)
            t0 = time.perf_counter()
            unit = Unit(u, s, gen)
            its, med = run_unit(unit, log)
            log(
                f"  {u['id']}: {med:.3f} s/iteration (median of {len(its)}; "
                f"{time.perf_counter() - t0:.1f} s with setup)"
            )
            rows.append({"id": u["id"], "median_s": med, "iterations_s": its})
    return rows


if __name__ == "__main__":
    sys.exit(serve(run))
