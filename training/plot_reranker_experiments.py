"""The reranker experiments of 2026-12-07 (evals/results/reranker-experiments.json) -> docs/reranker-experiments.png."""

import json, math
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
r = json.load(open("evals/results/reranker-experiments.json"))["runs"]; bce, lw = r["bce_lr3e-5"]["sets"], r["listwise_lr3e-5"]["sets"]
old = json.load(open("training/folds/xrerank-half0/card.json"))  # the committed half0 (BCE, lr 1.5e-4)
old_curve = old["loss_curve"]
bce_curve, lw_curve = r["bce_lr3e-5"]["loss_curve"], r["listwise_lr3e-5"]["loss_curve"]
e3 = r.get("listwise_lr3e-5_3epochs")  # the same recipe for three epochs (train_reranker --experiment e3)
rate = old["positives"] / old["pairs"]
prior = -(rate * math.log(rate) + (1 - rate) * math.log(1 - rate))
fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
x = lambda c: [50 * (i + 1) for i in range(len(c))]
a.plot(x(old_curve), [v / prior for v in old_curve], marker=".", label="BCE, lr 1.5e-4 (committed half0)")
a.plot(x(bce_curve), [v / prior for v in bce_curve], marker=".", label="BCE, lr 3e-5")
a.plot(x(lw_curve), [v / math.log(4) for v in lw_curve], marker=".", label="listwise, lr 3e-5")
if e3:
    a.plot(x(e3["loss_curve"]), [v / math.log(4) for v in e3["loss_curve"]], marker=".", label="listwise, 3 epochs")
a.axhline(1.0, color="grey", linestyle="--", label="a constant score")
a.set_xlabel("batches of 32 pairs (half0: trained on half-1 articles)")
a.set_ylabel("loss / loss of a constant")
a.set_title("training loss on 2 CPU cores")
a.legend(fontsize=8)
sets = list(lw)
bars = [("today's first candidate", {k: v["today"] for k, v in lw.items()}),
        ("BCE, lr 3e-5", {k: v["xrerank"] for k, v in bce.items()}),
        ("listwise, lr 3e-5", {k: v["xrerank"] for k, v in lw.items()})]
bars += [("listwise, 3 epochs", {k: v["xrerank"] for k, v in e3["sets"].items()})] if e3 else []
bars += [("ceiling (any of the 8)", {k: v["ceiling"] for k, v in lw.items()})]
w = 0.8 / len(bars)
idx = np.arange(len(sets))
for i, (label, vals) in enumerate(bars):
    b.bar(idx + (i - (len(bars) - 1) / 2) * w, [vals[s] for s in sets], w, label=label,
          **({"color": "lightgrey"} if label.startswith("ceiling") else {}))
b.set_xticks(idx, sets)
b.set_ylim(0, 1.35)
b.set_ylabel("first candidate holds the answer")
b.set_title("out of fold: half-0 questions, first 8 candidates")
b.legend(fontsize=8, loc="upper left", ncol=2)
fig.tight_layout()
fig.savefig("docs/reranker-experiments.png", dpi=110)
