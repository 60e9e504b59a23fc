"""`python bench/splitter.py`: the chunker's English sentence splitter beside pysbd and nltk's Punkt.

Measures, on the English shipped articles (data/articles) and the English public corpus
(/work/shared/eval/public/corpus-en, held-back articles skipped), and on a hand-checked set of tricky sentences
written here (HAND_SET): sentence counts, missed sentence ends at run-ons ("the spot.At the"), splits at
abbreviations ("Mr.", "U.S.", "No. 5", "3.5", "J. K."), agreement between the splitters and time per 1000
sentences. Every splitter gets one line (paragraph) at a time, as the chunker never joins lines.

Punkt's data can't be downloaded here, so Punkt is trained, unsupervised, on the English article texts themselves.
Needs `pip install pysbd` (nltk is already a dependency of the stack). Results: docs/splitter.md.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from citechat.ingest.chunking import split_sentences  # noqa: E402
from citechat.language import is_cjk  # noqa: E402
from citechat.ingest.loading import load_article  # noqa: E402

PUBLIC = Path("/work/shared/eval/public")
# Held back by /work/shared/eval/public/README.md: never read, whichever corpus they turn up in.
HELD_BACK = {
    "Warsaw", "Nikola_Tesla", "Teacher", "Southern_California", "Victoria_(Australia)", "Steam_engine",
    "1973_oil_crisis", "European_Union_law", "Ctenophora", "Packet_switching", "Geology",
    "Victoria_and_Albert_Museum", "Genghis_Khan", "Immune_system", "Construction", "Harvard_University",
    "Economic_inequality", "University_of_Chicago", "Kenya", "Chloroplast", "Rhine", "Islamism",
    "United_Methodist_Church", "Force",
}

# Tricky English sentences. "|" marks an expected sentence end (whitespace around it is ignored); the text a
# splitter sees is the case without the marks. Written for this benchmark.
HAND_SET = [
    # run-ons: no space after the full stop (the shipped articles are full of them)
    "We stood at the spot.|At the ceremony, he spoke.",
    "Liu Sheng presented flags to the 11 leading units on the spot.|At the beginning of the New Year, Luohu set goals.",
    "The plan was approved in 2021.|The work starts in May.",
    "Prices rose 5%.|Wages did not.",
    "Huang Shengwen presided over the meeting.|Liu Sheng and Vanderfan presented flags.",
    "The new line opens in 2023.|It will carry 50,000 passengers a day.|Tickets cost 2 yuan.",
    "He said: “We will win.”|The crowd cheered.",
    "Output rose 12.3% year on year.|Exports rose 8.1%.",
    # titles and other abbreviations inside a sentence
    "Mr. Smith met Dr. Jones at St. Mary's hospital.",
    "Mrs. Lee and Ms. Chan left early. | They took a taxi.",
    "The company, founded in 1998 by Prof. Wang, is based in Shenzhen.",
    "Gen. Li and Gov. Zhao attended the event.",
    "Mt. Tai is in Shandong. | It is 1,545 m high.",
    "Apple Inc. reported record sales. | Its shares rose.",
    "It happened on Jan. 5, 2022, in Beijing.",
    "The vote was 52 vs. 48 in favour.",
    "Stocks fell, e.g. in Tokyo and Hong Kong.",
    "The first phase is done. | The second phase, i.e. the bridge, starts next year.",
    "The city covers 1,200 sq. km of land.",
    "The report (see p. 12) was published in May.",
    "It was built in c. 1200 by the monks.",
    "He earned a Ph.D. in physics in 2010.",
    # dotted acronyms, inside and at the end of a sentence
    "The U.S. economy grew by 2.5 percent last year.",
    "World War II ended in 1945. | The U.N. was founded that year.",
    "The meeting starts at 9 a.m. and ends at noon.",
    "He moved to the U.S. | He now lives in Ohio.",
    "The meeting ended at 5 p.m. | Everyone went home.",
    # numbers
    "Route No. 5 was closed on Monday.",
    "The rate is 3.5 percent. | It was 4.25 percent in 2020.",
    "Version 2.0 is out. | Version 3.0 is planned for 2025.",
    "Section 3.2.1 describes the method.",
    "The price was $1.5 billion (about 10.3 billion yuan). | The deal closed in March.",
    "The temperature was -3.5 °C. | Snow fell overnight.",
    # initials
    "J. K. Rowling wrote the books.",
    "The novel by George R. R. Martin sold well. | A sequel is planned.",
    "John F. Kennedy was born in 1917.",
    # question marks, exclamations, ellipses and quotes
    "Is this the end? | No, it is not! | We go on.",
    "Residents asked: why now? | Officials did not reply.",
    "“Are you coming?” she asked.",
    "He waited... | Then he left.",
    "The spokesman said it was “a great day”. | The event ended at noon.",
    "See www.example.com for details.",
]

# A sentence end with no space after it: "the spot.At", "100%.The", "“schedule”.Major", "win.”The".
RUN_ON = re.compile(r"(?<=[a-z0-9%”’\")])[.!?][”\"’)]*(?=[A-Z][a-z]|[AI]\s)")
_TITLES = "Mr|Mrs|Ms|Dr|Prof|St|Gen|Gov|Sen|Rep|Lt|Col|Capt|Sgt|Rev|Hon|Mt|Ft"
_OTHER = "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Inc|Ltd|Co|Corp|Jr|Sr|vs|etc|approx|ca|c|cf|al|sq|p|pp"
ABBREVIATION_SITES = {  # kind -> pattern ending right after the full stop that is not (or not always) an end
    "title (Mr., Dr.)": re.compile(rf"\b(?:{_TITLES})\.(?=\s+[A-Z])"),
    "acronym (U.S., a.m.)": re.compile(r"(?<![\w.])(?:[A-Za-z]\.){2,}(?=\s)"),
    "No. 5": re.compile(r"\b(?:No|Nos|Vol|Fig|Art)\.(?=\s?\d)"),
    "decimal (3.5)": re.compile(r"(?<=\d)\.(?=\d)"),
    "initial (J. K.)": re.compile(r"(?<![\w.])[A-Z]\.(?=\s*[A-Z]\.|\s+[A-Z][a-z])"),
    "other (Jan., Inc., c.)": re.compile(rf"\b(?:{_OTHER})\.(?=\s)"),
}
ALWAYS_WRONG = {"title (Mr., Dr.)", "No. 5", "decimal (3.5)"}  # a split there is wrong whatever follows


# --- splitters: each maps one line to sentence spans (start, end) within it -----------------------------------

def ours(line: str) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in split_sentences(line)]


def make_pysbd() -> Callable[[str], list[tuple[int, int]]]:
    import pysbd

    seg = pysbd.Segmenter(language="en", clean=False)

    def split(line: str) -> list[tuple[int, int]]:
        return _align(line, seg.segment(line))

    return split


def make_punkt(train_text: str) -> tuple[Callable[[str], list[tuple[int, int]]], dict]:
    from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTrainer

    t0 = time.perf_counter()
    trainer = PunktTrainer()
    trainer.train(train_text, finalize=False)
    trainer.finalize_training()
    params = trainer.get_params()
    tok = PunktSentenceTokenizer(params)
    info = {"train_s": time.perf_counter() - t0, "abbreviations": sorted(params.abbrev_types)}
    return (lambda line: list(tok.span_tokenize(line))), info


def _align(line: str, sentences: list[str]) -> list[tuple[int, int]]:
    """Spans of the (unchanged) sentence strings a splitter returned, found in order in `line`."""
    out, cursor = [], 0
    for s in sentences:
        s = s.strip()
        if not s:
            continue
        i = line.find(s, cursor)
        if i < 0:
            raise ValueError(f"splitter changed the text: {s[:60]!r}")
        out.append((i, i + len(s)))
        cursor = i + len(s)
    return out


def boundaries(line: str, spans: list[tuple[int, int]]) -> set[int]:
    """Sentence ends inside a line (the line's own end is not one), each moved left past whitespace."""
    last = len(line.rstrip())
    ends = {len(line[:e].rstrip()) for _, e in spans}
    return {e for e in ends if 0 < e < last}


# --- corpora ---------------------------------------------------------------------------------------------

def english_articles(folder: Path, sample: int, rng: random.Random) -> list[str]:
    files = sorted(f for f in folder.glob("*") if f.is_file() and f.stem not in HELD_BACK)
    texts = [t for t in (load_article(f).text for f in files) if not is_cjk(t)]
    return rng.sample(texts, sample) if len(texts) > sample else texts


def lines_of(texts: list[str]) -> list[str]:
    return [m.group(0) for t in texts for m in re.finditer(r"[^\n]+", t) if m.group(0).strip()]


@dataclass
class Tally:
    sentences: int = 0
    seconds: float = 0.0
    run_on_missed: int = 0
    abbrev_false: Counter = field(default_factory=Counter)  # kind -> certain false splits
    abbrev_capital: Counter = field(default_factory=Counter)  # kind -> splits before a capital (maybe right)
    examples: list[str] = field(default_factory=list)


def measure(lines: list[str], splitters: dict[str, Callable], repeats: int) -> tuple[dict[str, Tally], dict]:
    tallies = {name: Tally() for name in splitters}
    bounds: dict[str, list[set[int]]] = {name: [] for name in splitters}
    for name, split in splitters.items():
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            spans = [split(line) for line in lines]
            best = min(best, time.perf_counter() - t0)
        tallies[name].seconds = best
        tallies[name].sentences = sum(len(s) for s in spans)
        bounds[name] = [boundaries(line, s) for line, s in zip(lines, spans)]
    sites = {"run_on": 0, "abbreviation": Counter()}
    for k, line in enumerate(lines):
        run_ons = {m.end() for m in RUN_ON.finditer(line)}
        sites["run_on"] += len(run_ons)
        abbrevs = [(kind, m.end()) for kind, rx in ABBREVIATION_SITES.items() for m in rx.finditer(line)]
        for kind, _ in abbrevs:
            sites["abbreviation"][kind] += 1
        for name, t in tallies.items():
            b = bounds[name][k]
            t.run_on_missed += len(run_ons - b)
            for kind, end in abbrevs:
                if end not in b:
                    continue
                nxt = line[end:].lstrip()[:1]
                certain = kind in ALWAYS_WRONG or (nxt and (nxt.islower() or nxt.isdigit()))
                (t.abbrev_false if certain else t.abbrev_capital)[kind] += 1
                t.examples.append(f"{'false' if certain else 'capital'}: …{line[max(0, end - 40): end + 30]}…")
    return tallies, {"sites": sites, "bounds": bounds}


def disagreements(lines: list[str], bounds: dict, a: str, b: str) -> list[str]:
    """Sentence ends one splitter makes and the other doesn't, outside run-on sites, in context (to hand-check)."""
    out = []
    for line, x, y in zip(lines, bounds[a], bounds[b]):
        run_ons = {m.end() for m in RUN_ON.finditer(line)}
        for end in sorted((x ^ y) - run_ons):
            out.append(f"{'only ' + a.split()[0] if end in x else 'only ' + b.split()[0]}: "
                       f"…{line[max(0, end - 45): end]}|{line[end: end + 30]}…")
    return out


def agreement(a: list[set[int]], b: list[set[int]]) -> float:
    """Boundary F1 of one splitter against another (1.0 = the same sentence ends everywhere)."""
    both = sum(len(x & y) for x, y in zip(a, b))
    total = sum(len(x) + len(y) for x, y in zip(a, b))
    return 2 * both / total if total else 1.0


def hand_set(splitters: dict[str, Callable]) -> dict[str, dict]:
    out = {}
    for name, split in splitters.items():
        right, missed, extra, wrong = 0, 0, 0, []
        for case in HAND_SET:
            text = case.replace("|", "")
            want, pos = set(), 0
            for part in case.split("|")[:-1]:
                pos += len(part)
                want.add(len(text[:pos].rstrip()))
            got = boundaries(text, split(text))
            missed += len(want - got)
            extra += len(got - want)
            if got == want:
                right += 1
            else:
                wrong.append(case)
        n_want = sum(c.count("|") for c in HAND_SET)
        out[name] = {"right": right, "cases": len(HAND_SET), "missed": missed, "extra": extra, "ends": n_want,
                     "wrong": wrong}
    return out


# --- report ---------------------------------------------------------------------------------------------

def corpus_table(title: str, n_articles: int, tallies: dict[str, Tally], extra: dict, ref: str) -> str:
    sites = extra["sites"]
    per = max(tallies[ref].sentences, 1) / 1000
    rows = [f"### {title}: {n_articles} articles, {sum(1 for _ in extra['bounds'][ref])} lines", "",
            f"Run-on sites (\"spot.At\"): {sites['run_on']}. Abbreviation sites: "
            + ", ".join(f"{k} {v}" for k, v in sites["abbreviation"].items()) + ".", "",
            ("| splitter | sentences | run-on ends missed | false splits at abbreviations | splits at abbreviations "
             "before a capital word (unclear) | ms per 1000 sentences |"), "|---|---|---|---|---|---|"]
    for name, t in tallies.items():
        false = sum(t.abbrev_false.values())
        cap = sum(t.abbrev_capital.values())
        detail = ", ".join(f"{k} {v}" for k, v in t.abbrev_false.items())
        rows.append(f"| {name} | {t.sentences} | {t.run_on_missed} of {sites['run_on']} | {false}"
                    f"{f' ({detail})' if detail else ''} | {cap} | {t.seconds * 1000 / per:.1f} |")
    rows.append(f"\nTime: the corpus, line by line, best of the runs, per 1000 of the sentences {ref} finds.")
    names = list(tallies)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    rows += ["", "Agreement (boundary F1): " + ", ".join(
        f"{a}–{b} {agreement(extra['bounds'][a], extra['bounds'][b]):.3f}" for a, b in pairs) + "."]
    return "\n".join(rows)


def hand_table(results: dict[str, dict]) -> str:
    rows = [f"### Hand set: {len(HAND_SET)} tricky cases, {next(iter(results.values()))['ends']} sentence ends", "",
            "| splitter | cases right | ends missed | false splits |", "|---|---|---|---|"]
    for name, r in results.items():
        rows.append(f"| {name} | {r['right']} / {r['cases']} ({r['right'] / r['cases']:.0%}) | {r['missed']} | "
                    f"{r['extra']} |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=Path, default=ROOT / "data" / "articles")
    ap.add_argument("--public", type=Path, default=PUBLIC / "corpus-en")
    ap.add_argument("--sample", type=int, default=300, help="at most this many articles per corpus")
    ap.add_argument("--repeats", type=int, default=3, help="timing: best of this many runs")
    ap.add_argument("--show", action="store_true", help="list the hand-set misses and abbreviation splits")
    args = ap.parse_args()
    rng = random.Random(0)
    corpora = {"Shipped articles (English)": english_articles(args.articles, args.sample, rng),
               "Public corpus-en (Wikipedia)": english_articles(args.public, args.sample, rng)}
    punkt, info = make_punkt("\n\n".join(t for texts in corpora.values() for t in texts))
    splitters = {"ours": ours, "pysbd": make_pysbd(), "punkt": punkt}
    print(f"Punkt trained in {info['train_s']:.2f} s; learned abbreviations: {', '.join(info['abbreviations'])}\n")
    for title, texts in corpora.items():
        lines = lines_of(texts)
        tallies, extra = measure(lines, splitters, args.repeats)
        print(corpus_table(title, len(texts), tallies, extra, next(iter(splitters))) + "\n")
        if args.show:
            for name, t in tallies.items():
                print(f"  {name} splits at abbreviations:", *t.examples, sep="\n    ")
            first, *others = splitters
            for other in others:
                print(f"  {first} vs {other}, outside run-ons:", *disagreements(lines, extra["bounds"], first, other),
                      sep="\n    ")
    results = hand_set(splitters)
    print(hand_table(results))
    if args.show:
        for name, r in results.items():
            print(f"  {name} gets wrong:", *r["wrong"], sep="\n    ")


if __name__ == "__main__":
    main()
