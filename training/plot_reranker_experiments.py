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
rate = old["positives"] / old["pairs"]
prior = -(rate * math.log(rate) + (1 - rate) * math.log(1 - rate))
fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
x = lambda c: [50 * (i + 1) for i in range(len(c))]
a.plot(x(old_curve), [v / prior for v in old_curve], marker=".", label="BCE, lr 1.5e-4 (committed half0)")
a.plot(x(bce_curve), [v / prior for v in bce_curve], marker=".", label="BCE, lr 3e-5")
a.plot(x(lw_curve), [v / math.log(4) for v in lw_curve], marker=".", label="listwise, lr 3e-5")
a.axhline(1.0, color="grey", linestyle="--", label="a constant score")
a.set_xlabel("batches of 32 pairs (half0: trained on half-1 articles)")
a.set_ylabel("loss / loss of a constant")
a.set_title("training loss, one epoch on 2 CPU cores")
a.legend(fontsize=8)
sets = list(lw)
w = 0.2
idx = np.arange(len(sets))
b.bar(idx - 1.5 * w, [lw[s]["today"] for s in sets], w, label="today's first candidate")
b.bar(idx - 0.5 * w, [bce[s]["xrerank"] for s in sets], w, label="BCE, lr 3e-5")
b.bar(idx + 0.5 * w, [lw[s]["xrerank"] for s in sets], w, label="listwise, lr 3e-5")
b.bar(idx + 1.5 * w, [lw[s]["ceiling"] for s in sets], w, label="ceiling (any of the 8)", color="lightgrey")
b.set_xticks(idx, sets)
b.set_ylim(0, 1)
b.set_ylabel("first candidate holds the answer")
b.set_title("out of fold: half-0 questions, first 8 candidates")
b.legend(fontsize=8, loc="upper right")
fig.tight_layout()
fig.savefig("docs/reranker-experiments.png", dpi=110)
