"""Train the answer-or-abstain model (`make train`).

1. features: every question of the public sets (half A) is asked through the real retrieval stage (cached in
   training/cache/, keyed by the set file and the retrieval code); each retrieved sentence becomes one row of
   citechat.answer.decision.FEATURES, labelled 1 when it is in the gold article and holds a gold answer.
2. folds: articles are split into K folds (never questions: questions about one paragraph are near-duplicates).
   An unanswerable question has no gold article; it goes with the article of its best-ranked candidate.
3. out-of-fold: each fold's model scores the questions of its held-out articles. The per-pair thresholds are chosen
   on those out-of-fold scores, and the curves are drawn from them (docs/decision-curves.png).
4. the shipped model trains on everything; the fold models and the question->fold map go to training/folds/ so
   `make eval-public` can report half-A figures that no model trained on.

Usage: python training/train_decision.py [--limit N] [--sets en-en,en-zh,...] [--folds 5] [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from public_sets import ROOT, SETS, engine_for, read_set, set_file  # noqa: E402

from citechat.answer.decision import MODEL_DIR, MODEL_NAME, balanced_point, citable, floor_point, operating_point, \
    pair_of  # noqa: E402
from citechat.answer.features import FEATURES, candidate_features, question_features  # noqa: E402
from citechat.answer.question import analyse_question  # noqa: E402
from citechat.evaluation import holds_answer  # noqa: E402
from citechat.language import is_cjk  # noqa: E402
from citechat.retrieval.rerank import reads_pair  # noqa: E402

CACHE = ROOT / "training" / "cache"
SET_PAIR = {"en-en": "en-en", "en-zh": "en-zh", "zh-zh": "zh-zh", "cmrc-zh": "zh-zh", "zh-en": "zh-en"}
FOLD_DIR = ROOT / "training" / "folds"
PARAMS = {
    "objective": "binary", "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 40,
    "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
    "verbose": -1, "num_threads": 2, "seed": 7,
}
ROUNDS = 300
# The operating point of each language pair (decision.operating_point): the threshold that answers most while
# abstaining on at least MIN_ABSTAIN of its unanswerable questions, out of fold, but never above the threshold of
# the best balanced accuracy. 0.85 is the product's floor (issue 11); the extra 0.02 is a margin for new articles.
MIN_ABSTAIN = 0.87
MIN_UNANSWERABLE = 30  # a language pair needs this many unanswerable questions to get a threshold of its own


NOT_RETRIEVAL = {"multilingual.py", "e5_weights.py"}


def _retrieval_key(name: str, full: bool, limit: int | None) -> str:
    """Retrieval output depends on the set file and the retrieval/chunking code, not on the features."""
    h = hashlib.sha256(json.dumps([name, full, limit]).encode())
    h.update(set_file(name, full).read_bytes())
    package = ROOT / "src" / "citechat"
    # the multilingual cross-encoder is not part of it: training adds its out-of-fold scores (train_reranker.py)
    for f in [*sorted(p for p in (package / "retrieval").glob("*.py") if p.name not in NOT_RETRIEVAL),
              *(package / f for f in (
            "answer/question.py", "ingest/chunking.py", "language.py", "ingest/loading.py", "config.py"))]:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def retrieved_candidates(name: str, full: bool = True, limit: int | None = None, cache: Path = CACHE,
                         index_root: Path | None = None) -> dict:
    """Every question of a set through the real retriever: its citable candidates with their retrieval scores,
    plus the corpus statistics the features use. Cached (the slow part: the cross-encoder)."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{name}-retrieved-{_retrieval_key(name, full, limit)}.pkl"
    if path.exists():
        with path.open("rb") as f:
            return pickle.load(f)
    from tqdm import tqdm

    questions = read_set(name, full, limit)
    engine = engine_for(SETS[name], index_root=index_root, multilingual=False)
    rows = []
    for q in tqdm(questions, desc=f"retrieval {name}", unit="q"):
        retrieved = engine.retriever.retrieve(q.question)
        views = [c for c in retrieved.candidates if citable(c.text)]
        rows.append((q, len(retrieved.unknown_terms), views))
    out = {"rows": rows, "stats": engine.retriever.keyword.stats}
    with path.open("wb") as f:
        pickle.dump(out, f)
    return out


def multilingual_scores(name: str, folder: Path = CACHE / "reranker") -> dict[str, list[float]]:
    """Out-of-fold multilingual cross-encoder scores of a set's first candidates, per question id: each half's
    questions scored by the reranker trained on the other half (training/train_reranker.py; an --experiment's
    scores are in its own folder)."""
    scores: dict[str, list[float]] = {}
    for half in (0, 1):
        path = folder / f"oof-{name}-half{half}.json"
        if not path.exists():
            raise SystemExit(f"error: {path} is missing: run `make train-reranker` first, or train without --multilingual.")
        scores.update(json.loads(path.read_text(encoding="utf-8"))["scores"])
    return scores


def set_features(name: str, full: bool = True, limit: int | None = None, cache: Path = CACHE,
                 index_root: Path | None = None, multilingual: bool = True,
                 scores_dir: Path | None = None, skip_english: bool = True) -> dict[str, np.ndarray]:
    """Feature rows of one set (features are recomputed from the cached retrieval in about a minute). With
    `multilingual`, each question's first candidates carry the out-of-fold multilingual score, as the live
    retriever's first `multilingual_top_n` carry the shipped model's (the pairs it reads: `reads_pair`)."""
    got = retrieved_candidates(name, full, limit, cache, index_root)
    stats = got["stats"]
    oof = multilingual_scores(name, scores_dir or cache / "reranker") if multilingual else {}
    for q, _unknown, views in got["rows"]:
        for v, score in zip(views, oof.get(q.id, [])):
            v.scores.xrerank = score if reads_pair(q.question, v.text, skip_english) else None
    X_rows, labels, qidx, sources, pairs, groups, ids, answerable = [], [], [], [], [], [], [], []
    for i, (q, unknown, views) in enumerate(got["rows"]):
        X_rows.append(candidate_features(question_features(analyse_question(q.question)), views, stats, unknown))
        labels += [int(bool(q.source) and v.source == q.source and holds_answer(v.text, q.answers)) for v in views]
        qidx += [i] * len(views)
        sources += [v.source for v in views]
        pairs += [pair_of(is_cjk(q.question), is_cjk(v.text)) for v in views]
        groups.append(q.source or (views[0].source if views else f"none:{q.id}"))
        ids.append(q.id)
        answerable.append(bool(q.source))
    return {
        "X": np.concatenate(X_rows) if X_rows else np.zeros((0, len(FEATURES)), np.float32),
        "y": np.array(labels, dtype=np.int8), "q": np.array(qidx, dtype=np.int32),
        "source": np.array(sources), "pair": np.array(pairs),
        "ids": np.array(ids), "group": np.array(groups), "answerable": np.array(answerable, dtype=bool),
    }


def fold_of_groups(groups: list[str], k: int) -> dict[str, int]:
    """Articles -> folds, by a stable hash of the name (so adding a set does not reshuffle the others)."""
    return {g: int(hashlib.md5(g.encode()).hexdigest(), 16) % k for g in sorted(set(groups))}


def pair_thresholds(best: dict, data: dict, names: list[str], min_abstain: float,
                    keep: dict[str, np.ndarray] | None = None, quiet: bool = False) -> tuple[dict, dict, dict]:
    """Per language pair: the operating threshold (decision.operating_point) on the questions `keep` selects
    (default all), with its point and curve. Too few unanswerable questions everywhere: one pooled threshold."""
    by_pair: dict[str, list[tuple[float, int, str]]] = {}
    by_pair_answerable: dict[str, list[bool]] = {}
    for n in names:
        for i, (b, a) in enumerate(zip(best[n], data[n]["answerable"])):
            if keep is not None and not keep[n][i]:
                continue
            pair = b[2] or SET_PAIR[n]
            by_pair.setdefault(pair, []).append(b)
            by_pair_answerable.setdefault(pair, []).append(bool(a))
    thresholds, chosen_pair, pair_curves = {}, {}, {}
    for pair, b in sorted(by_pair.items()):
        if sum(1 for a in by_pair_answerable[pair] if not a) < MIN_UNANSWERABLE:
            if not quiet:
                print(f"  pair {pair}: too few unanswerable questions for its own threshold; it gets the strictest")
            continue
        curve = operating_curve(b, np.array(by_pair_answerable[pair]))
        pick = operating_point(curve, min_abstain)
        thresholds[pair], chosen_pair[pair], pair_curves[pair] = pick["threshold"], pick, curve
    if not thresholds:  # too little data for any pair (a tiny run): one threshold from all questions pooled
        pooled = [b for v in by_pair.values() for b in v]
        pooled_answerable = np.array([a for v in by_pair_answerable.values() for a in v])
        pick = operating_point(operating_curve(pooled, pooled_answerable), min_abstain)
        thresholds = {pair: pick["threshold"] for pair in by_pair}
    return thresholds, chosen_pair, pair_curves


def fit(X: np.ndarray, y: np.ndarray, rounds: int = ROUNDS):
    import lightgbm

    return lightgbm.train(PARAMS, lightgbm.Dataset(X, label=y, feature_name=list(FEATURES)), num_boost_round=rounds)


def best_per_question(data: dict[str, np.ndarray], p: np.ndarray) -> list[tuple[float, int, str]]:
    """(best probability, its label, its language pair) per question; (0, 0, '') when nothing was retrieved."""
    n = len(data["ids"])
    best: list[tuple[float, int, str]] = [(0.0, 0, "")] * n
    for row in np.argsort(-p, kind="stable"):
        qi = int(data["q"][row])
        if best[qi][2] == "":
            best[qi] = (float(p[row]), int(data["y"][row]), str(data["pair"][row]))
    return best


def operating_curve(best: list[tuple[float, int, str]], answerable: np.ndarray) -> list[dict[str, float]]:
    """Answer and abstention accuracy, precision and recall at each threshold."""
    probs = np.array([b[0] for b in best])
    right = np.array([b[1] for b in best])
    out = []
    for t in np.round(np.arange(0.02, 0.99, 0.01), 2):
        answered = probs >= t
        n_ans, n_un = answerable.sum(), (~answerable).sum()
        correct = answered & (right == 1) & answerable
        out.append({
            "threshold": float(t),
            "answer": float(correct.sum() / n_ans) if n_ans else 0.0,
            "abstain": float((~answered & ~answerable).sum() / n_un) if n_un else 1.0,
            "precision": float(correct.sum() / answered.sum()) if answered.any() else 1.0,
            "recall": float(correct.sum() / n_ans) if n_ans else 0.0,
        })
    return out


def plot_curves(curves: dict[str, list[dict[str, float]]], chosen: dict[str, dict[str, float]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib is not installed; no plot", file=sys.stderr)
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for name, curve in curves.items():
        line, = axes[0].plot([c["recall"] for c in curve], [c["precision"] for c in curve], label=name)
        axes[1].plot([c["abstain"] for c in curve], [c["answer"] for c in curve], label=name, color=line.get_color())
        pick = chosen[name]
        axes[0].plot(pick["recall"], pick["precision"], "o", color=line.get_color())
        axes[1].plot(pick["abstain"], pick["answer"], "o", color=line.get_color())
    axes[0].set(xlabel="recall (answerable questions answered right)", ylabel="precision (answers that are right)",
                title="Precision/recall per question set (out-of-fold)")
    axes[1].set(xlabel="abstention accuracy", ylabel="answer accuracy",
                title="Answer vs abstain; dots: chosen thresholds")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--limit", type=int, help="first N questions of each set (a quick run)")
    ap.add_argument("--sample", action="store_true", help="the sample files instead of the full ones")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    ap.add_argument("--min-abstain", type=float, default=MIN_ABSTAIN,
                    help="abstention accuracy each language pair's threshold must keep, out of fold")
    ap.add_argument("--out", type=Path, default=MODEL_DIR, help="where the shipped model goes")
    ap.add_argument("--fold-dir", type=Path, default=FOLD_DIR)
    ap.add_argument("--plot", type=Path, default=ROOT / "docs" / "decision-curves.png")
    ap.add_argument("--cache", type=Path, default=CACHE, help="feature cache folder")
    ap.add_argument("--index-root", type=Path, help="folder of the public corpora's indexes (default index-public)")
    ap.add_argument("--without", default="", help="feature columns to leave empty (an ablation), e.g. ce,ce_gap,ce_best")
    ap.add_argument("--multilingual", action="store_true",
                    help="add the multilingual cross-encoder's out-of-fold scores (needs `make train-reranker`); "
                         "the shipped decision is trained without them, its columns left empty")
    ap.add_argument("--reranker-scores", type=Path,
                    help="with --multilingual: the folder of out-of-fold scores (default training/cache/reranker; "
                         "a train_reranker --experiment NAME writes training/cache/reranker/NAME)")
    ap.add_argument("--xr-english", action="store_true",
                    help="with --multilingual: also English question/English sentence pairs (the runtime's "
                         "retrieval.multilingual_skip_english=false)")
    args = ap.parse_args(argv)
    t0 = time.time()
    names = [s for s in args.sets.split(",") if s]
    data = {n: set_features(n, full=not args.sample, limit=args.limit, cache=args.cache, index_root=args.index_root,
                            multilingual=args.multilingual, scores_dir=args.reranker_scores,
                            skip_english=not args.xr_english) for n in names}
    for col in [c for c in args.without.split(",") if c]:
        for n in names:
            data[n]["X"][:, FEATURES.index(col)] = np.nan
    groups = [g for n in names for g in data[n]["group"]]
    folds = fold_of_groups(groups, args.folds)
    row_fold = {n: np.array([folds[str(data[n]["group"][qi])] for qi in data[n]["q"]]) for n in names}
    X = np.concatenate([data[n]["X"] for n in names])
    y = np.concatenate([data[n]["y"] for n in names])
    f_all = np.concatenate([row_fold[n] for n in names])
    print(f"{len(X):,} candidate rows, {int(y.sum()):,} positive, {sum(len(data[n]['ids']) for n in names):,} "
          f"questions, {len(folds)} article groups in {args.folds} folds")
    oof = np.zeros(len(X), dtype=np.float64)
    args.fold_dir.mkdir(parents=True, exist_ok=True)
    for k in range(args.folds):
        test = f_all == k
        if not test.any() or test.all():
            continue
        model = fit(X[~test], y[~test], args.rounds)
        oof[test] = model.predict(X[test])
        model.save_model(str(args.fold_dir / f"fold{k}.txt"))
    # Per set and per language pair, out of fold.
    offsets = np.cumsum([0] + [len(data[n]["X"]) for n in names])
    best = {n: best_per_question(data[n], oof[offsets[i]: offsets[i + 1]]) for i, n in enumerate(names)}
    q_fold = {n: np.array([folds[str(g)] for g in data[n]["group"]]) for n in names}
    thresholds, chosen_pair, pair_curves = pair_thresholds(best, data, names, args.min_abstain)
    # Nested: the thresholds that answer fold k's questions are chosen on the other folds' questions only.
    fold_thresholds = {k: pair_thresholds(best, data, names, args.min_abstain, {n: q_fold[n] != k for n in names},
                                          quiet=True)[0] for k in range(args.folds)}
    set_curves, set_chosen = {}, {}
    for n in names:
        curve = operating_curve(best[n], data[n]["answerable"])
        set_curves[n] = curve
        # each question at the thresholds of its pair that were chosen without its fold (nested)
        answered = [p >= fold_thresholds[int(k)].get(pair, max(fold_thresholds[int(k)].values()))
                    for (p, _lab, pair), k in zip(best[n], q_fold[n])]
        ans = data[n]["answerable"]
        n_a, n_u = int(ans.sum()), int((~ans).sum())
        right = sum(1 for a, ok, b in zip(ans, answered, best[n]) if a and ok and b[1])
        abst = sum(1 for a, ok in zip(ans, answered) if not a and not ok)
        set_chosen[n] = {"answer": right / n_a if n_a else 0.0, "abstain": abst / n_u if n_u else 1.0,
                         "recall": right / n_a if n_a else 0.0,
                         "precision": right / max(1, sum(answered))}
        top = balanced_point(curve)
        at = {a: (floor_point(curve, a) or {"answer": 0.0})["answer"] for a in (0.85, 0.9)}
        print(f"  {n:8} out-of-fold: answer {set_chosen[n]['answer']:.3f}  abstain {set_chosen[n]['abstain']:.3f}"
              f"   (its best balanced: {top['answer']:.3f} / {top['abstain']:.3f} at {top['threshold']:.2f};"
              f" answer at abstain >= 0.85: {at[0.85]:.3f}, >= 0.90: {at[0.9]:.3f})")
    for pair, pick in chosen_pair.items():
        print(f"  pair {pair}: threshold {pick['threshold']:.2f} -> answer {pick['answer']:.3f}, "
              f"abstain {pick['abstain']:.3f}")
    plot_curves(set_curves, set_chosen, args.plot)
    final = fit(X, y, args.rounds)
    args.out.mkdir(parents=True, exist_ok=True)
    model_path = args.out / f"{MODEL_NAME}.txt"
    final.save_model(str(model_path))
    gain = final.feature_importance(importance_type="gain")
    card = {
        "version": time.strftime("%Y%m%d"),
        "features": list(FEATURES),
        "thresholds": thresholds,
        "operating_point": f"per language pair, out of fold: the most answers with abstention >= {args.min_abstain}, "
                           "never stricter than the best balanced accuracy (decision.operating_point)",
        "curves": pair_curves,  # out of fold, per pair: AnswerSettings.min_abstention picks other thresholds here
        "params": PARAMS, "rounds": args.rounds,
        "trained_on": {n: {"file": set_file(n, not args.sample).name, "questions": int(len(data[n]["ids"])),
                           "rows": int(len(data[n]["X"]))} for n in names},
        "limit": args.limit,
        "multilingual": args.multilingual, "xr_english": args.xr_english,
        "out_of_fold": {"per_set": set_chosen, "per_pair": chosen_pair, "folds": args.folds},
        "feature_gain": {f: round(float(g), 1) for f, g in sorted(zip(FEATURES, gain), key=lambda t: -t[1])},
    }
    model_path.with_suffix(".json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    question_fold = {f"{n}:{qid}": folds[str(g)] for n in names for qid, g in zip(data[n]["ids"], data[n]["group"])}
    (args.fold_dir / "folds.json").write_text(json.dumps({
        "folds": args.folds, "thresholds": thresholds, "fold_thresholds": fold_thresholds,
        "multilingual": args.multilingual, "xr_english": args.xr_english, "question_fold": question_fold}) + "\n",
        encoding="utf-8")
    print(f"wrote {model_path} (+ .json), {args.folds} fold models in {args.fold_dir}; {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
