"""`make soak` (python bench/soak.py): questions for a fixed time while an article is added and deleted now and then.

The app (`app.py`) and a `chroma run` server start as subprocesses on free loopback ports, on a copy of the
shipped articles. `--sessions` gradio_client sessions ask the dev questions in a loop; every `--every` seconds
another process adds an article (or deletes it again) and runs `citechat ingest`. The app's RSS is sampled every
`--sample-seconds`. Writes `<out>.json`, `<out>.md` and a plot of RSS over time.
Goal: RSS growth <= 5% from the end of warm-up to the end, 0 errors.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench.py beside it
from bench import RESULTS  # noqa: E402
from load import ROOT, free_port, same_answer, wait_http  # noqa: E402

from citechat.evaluation import percentile, read_cases  # noqa: E402

GROWTH_GOAL_PCT = 5.0
EXTRA_NAME = "soak_extra.txt"  # the same name every time, so a reference taken with it present stays valid


def extra_article() -> str:
    """An article on a topic none of the dev questions is about (a made-up town's ferry timetable)."""
    lines = ["Ferry timetable changes in Vellmar harbour", "", "Vellmar Gazette, 3 March 2023", ""]
    for i in range(12):
        lines.append(f"The ferry line {i + 1} to the island of Osk will leave at {6 + i}:15 from the north pier, "
                     f"and the harbour office said {40 + 7 * i} crossings are planned this spring.")
    return "\n".join(lines) + "\n"


def rss_kb(pid: int) -> int:
    """VmRSS of a process and all its descendants, in kB (0 if it is gone)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


@dataclass
class Tally:
    """What the sessions, the sampler and the events recorded (guarded by `lock`)."""

    t0: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (seconds since t0, ms)
    errors: list[str] = field(default_factory=list)
    crossed: list[str] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)  # (seconds since t0, kB)
    events: list[dict[str, Any]] = field(default_factory=list)

    def now(self) -> float:
        return time.perf_counter() - self.t0


class Services:
    """A Chroma server and the app on it, over a temp copy of the articles; `ingest` runs in another process."""

    def __init__(self, articles: Path, concurrency: int | None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="citechat-soak-"))
        self.data = self.tmp / "data"
        shutil.copytree(articles, self.data)
        self.procs: list[subprocess.Popen] = []
        cport, aport = free_port(), free_port()
        self.procs.append(subprocess.Popen(
            [str(Path(sys.executable).parent / "chroma"), "run", "--path", str(self.tmp / "chroma"), "--port",
             str(cport), "--host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        curl = f"http://127.0.0.1:{cport}"
        wait_http(curl + "/api/v2/heartbeat", self.procs[-1])
        self.env = dict(os.environ, CITECHAT_CHROMA_URL=curl, CITECHAT_DATA_DIR=str(self.data),
                        CITECHAT_INDEX_DIR=str(self.tmp / "local"), CITECHAT_PORT=str(aport))
        if concurrency:
            self.env["CITECHAT_CONCURRENCY"] = str(concurrency)
        self.ingest()
        self.log = open(self.tmp / "app.log", "w")
        self.app = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=self.env, stdout=self.log,
                                    stderr=subprocess.STDOUT)
        self.procs.append(self.app)
        self.url = f"http://127.0.0.1:{aport}/"
        wait_http(self.url, self.app)

    def ingest(self) -> str:
        """`citechat ingest` of the data folder (adds new files, removes deleted ones); returns its output."""
        p = subprocess.run([sys.executable, "-m", "citechat", "ingest", "--no-progress"], env=self.env,
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise RuntimeError(f"ingest failed ({p.returncode}): {p.stderr[-1000:]}")
        return p.stdout

    def add_extra(self) -> bool:
        (self.data / EXTRA_NAME).write_text(extra_article(), encoding="utf-8")
        return f"added    {EXTRA_NAME}" in self.ingest()

    def delete_extra(self) -> bool:
        (self.data / EXTRA_NAME).unlink()
        return f"removed  {EXTRA_NAME}" in self.ingest()

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def references(svc: Services, questions: list[str]) -> tuple[dict[str, list[dict]], int]:
    """Each question asked alone without and with the extra article. Returns the answers a session may get
    (one, or two for a question the extra article changes) and how many questions it changes."""
    from gradio_client import Client

    client = Client(svc.url, verbose=False)
    base = {q: client.predict(q, api_name="/chat") for q in questions}
    if not svc.add_extra():
        raise RuntimeError("the extra article was not added")
    with_extra = {q: client.predict(q, api_name="/chat") for q in questions}
    if not svc.delete_extra():
        raise RuntimeError("the extra article was not removed")
    refs = {q: [base[q]] + ([] if same_answer(with_extra[q], base[q], q) else [with_extra[q]]) for q in questions}
    return refs, sum(len(r) - 1 for r in refs.values())


def session(url: str, i: int, questions: list[str], refs: dict[str, list[dict]], tally: Tally,
            stop: threading.Event) -> None:
    """One gradio_client session asking the questions in turn; every failure and crossed answer is counted."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    k = i
    while not stop.is_set():
        q = questions[k % len(questions)]
        k += 1
        t = time.perf_counter()
        try:
            out = client.predict(q, api_name="/chat")
        except Exception as e:  # noqa: BLE001 - every failure is counted
            with tally.lock:
                tally.errors.append(f"{type(e).__name__}: {e}"[:200])
            continue
        ms = (time.perf_counter() - t) * 1000
        with tally.lock:
            if out.get("error"):
                tally.errors.append(f"answer error: {out['error']}"[:200])
                continue
            tally.latencies.append((tally.now(), ms))
            if not any(same_answer(out, ref, q) for ref in refs[q]):
                tally.crossed.append(q)


def sampler(pid: int, every: float, tally: Tally, stop: threading.Event) -> None:
    while True:
        kb = rss_kb(pid)
        with tally.lock:
            tally.rss.append((tally.now(), kb))
        if stop.wait(every):
            return


def events(svc: Services, every: float, tally: Tally, stop: threading.Event) -> None:
    """Every `every` seconds: add the extra article and ingest, then (next time) delete it and ingest."""
    present = False
    while not stop.wait(every):
        kind, at, t = "delete" if present else "add", tally.now(), time.perf_counter()
        try:
            ok = svc.delete_extra() if present else svc.add_extra()
            error = None if ok else "ingest did not report the change"
        except Exception as e:  # noqa: BLE001 - a failed event is an error of the run
            ok, error = False, f"{type(e).__name__}: {e}"[:200]
        present = not present
        with tally.lock:
            tally.events.append({"at_s": round(at, 1), "kind": kind, "ok": ok,
                                 "seconds": round(time.perf_counter() - t, 1), "error": error})


def run_soak(minutes: float, sessions: int, warmup_minutes: float, every: float, sample_seconds: float = 10,
             concurrency: int | None = None, questions_file: Path | None = None,
             articles: Path | None = None) -> dict[str, Any]:
    """Start the services, take the references, then ask and add/delete articles for `minutes`."""
    from citechat.config import load_settings

    questions = [c.question for c in read_cases(questions_file or ROOT / "evals" / "dev.jsonl")]
    svc = Services(articles or Path(load_settings().data_dir), concurrency)
    try:
        refs, changed = references(svc, questions)
        tally, stop = Tally(t0=time.perf_counter()), threading.Event()
        threads = [threading.Thread(target=session, args=(svc.url, i, questions, refs, tally, stop))
                   for i in range(sessions)]
        threads += [threading.Thread(target=sampler, args=(svc.app.pid, sample_seconds, tally, stop)),
                    threading.Thread(target=events, args=(svc, every, tally, stop))]
        for t in threads:
            t.start()
        end, next_line = minutes * 60, 60.0
        while tally.now() < end:
            time.sleep(max(0.0, min(end, next_line) - tally.now()))
            if tally.now() >= next_line:
                progress(tally)
                next_line += 60
        stop.set()
        for t in threads:
            t.join()
        app_alive = svc.app.poll() is None
    finally:
        svc.stop()
    return summarise(tally, minutes, sessions, warmup_minutes, every, refs_changed=changed, app_alive=app_alive)


def progress(tally: Tally) -> None:
    with tally.lock:
        rss = tally.rss[-1][1] / 1024 if tally.rss else 0
        line = (f"{tally.now() / 60:5.1f} min: {len(tally.latencies)} answers, {len(tally.errors)} errors, "
                f"{len(tally.crossed)} crossed, {len(tally.events)} events, RSS {rss:.0f} MB")
    print(line, flush=True)


def summarise(tally: Tally, minutes: float, sessions: int, warmup_minutes: float, every: float,
              refs_changed: int, app_alive: bool) -> dict[str, Any]:
    """The figures of the run; RSS growth is taken from the first sample after warm-up to the last one."""
    wall = tally.now()
    lat = [ms for _, ms in tally.latencies]
    after = [kb for t, kb in tally.rss if t >= warmup_minutes * 60] or [kb for _, kb in tally.rss[-1:]]
    start_kb, end_kb = after[0], after[-1]
    growth = round((end_kb - start_kb) / start_kb * 100, 2) if start_kb else None
    errors = len(tally.errors) + sum(1 for e in tally.events if not e["ok"]) + (0 if app_alive else 1)
    result = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - wall)), "cpus": os.cpu_count(),
        "minutes": minutes, "seconds": round(wall, 1), "sessions": sessions, "warmup_minutes": warmup_minutes,
        "event_every_s": every, "answers": len(lat), "answers_per_s": round(len(lat) / wall, 2) if wall else 0,
        "p50_ms": round(percentile(lat, 50), 1) if lat else None,
        "p95_ms": round(percentile(lat, 95), 1) if lat else None,
        "errors": errors, "error_samples": tally.errors[:5] + [e["error"] for e in tally.events if e["error"]][:5],
        "app_alive": app_alive, "crossed_answers": len(tally.crossed), "crossed_samples": tally.crossed[:5],
        "questions_changed_by_extra": refs_changed,
        "adds": sum(1 for e in tally.events if e["kind"] == "add" and e["ok"]),
        "deletes": sum(1 for e in tally.events if e["kind"] == "delete" and e["ok"]),
        "event_seconds_median": statistics.median([e["seconds"] for e in tally.events]) if tally.events else None,
        "rss_mb": {"start": round(start_kb / 1024, 1), "end": round(end_kb / 1024, 1),
                   "max": round(max(kb for _, kb in tally.rss) / 1024, 1),
                   "first": round(tally.rss[0][1] / 1024, 1), "growth_pct": growth},
        "rss_samples": [(round(t, 1), round(kb / 1024, 1)) for t, kb in tally.rss],
        "events": tally.events,
    }
    result["pass"] = errors == 0 and growth is not None and growth <= GROWTH_GOAL_PCT
    return result


def write_report(result: dict[str, Any], out: Path, plot: Path | None) -> Path:
    """`<out>.json`, `<out>.md` and (matplotlib permitting) the RSS plot; returns the Markdown file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    r, m = result, result["rss_mb"]
    verdict = "PASS" if r["pass"] else "FAIL"
    md = ["# citechat soak run", "",
          f"Run {r['started']} on {r['cpus']} CPUs: {r['minutes']:g} minutes ({r['seconds']} s), {r['sessions']} "
          f"gradio_client sessions against app.py on a Chroma server; an article added or deleted (+ `citechat "
          f"ingest` in another process) every {r['event_every_s']:g} s; warm-up {r['warmup_minutes']:g} min; "
          f"answer cache {os.environ.get('CITECHAT_ANSWER_CACHE', 'default (on)')}.", "",
          f"**{verdict}** (goal: RSS growth after warm-up <= {GROWTH_GOAL_PCT:g}%, 0 errors)", "",
          "| | |", "|---|---|",
          f"| app RSS at start (after warm-up) / end / max | {m['start']} / {m['end']} / {m['max']} MB |",
          f"| RSS growth after warm-up | {m['growth_pct']}% |",
          f"| app RSS at the first sample (before warm-up) | {m['first']} MB |",
          f"| answers | {r['answers']} ({r['answers_per_s']}/s) |",
          f"| latency p50 / p95 | {r['p50_ms']} / {r['p95_ms']} ms |",
          f"| errors | {r['errors']} |",
          f"| crossed answers | {r['crossed_answers']} |",
          f"| add / delete events done | {r['adds']} / {r['deletes']} (median {r['event_seconds_median']} s each) |",
          "", f"Questions whose answer the extra article changes (either answer accepted): "
          f"{r['questions_changed_by_extra']}."]
    if r["error_samples"]:
        md += ["", "Error samples:", ""] + [f"- {e}" for e in r["error_samples"]]
    if plot is not None and plot_rss(result, plot):
        md += ["", f"RSS plot: `{plot.relative_to(ROOT) if plot.is_relative_to(ROOT) else plot}`"]
    path = out.with_suffix(".md")
    path.write_text("\n".join(md) + "\n")
    return path


def plot_rss(result: dict[str, Any], path: Path) -> bool:
    """The app's RSS over time, warm-up and events marked; False if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    t = [s / 60 for s, _ in result["rss_samples"]]
    fig, ax = plt.subplots(figsize=(7, 3), dpi=100)
    ax.plot(t, [mb for _, mb in result["rss_samples"]], color="tab:blue", label="app RSS")
    ax.axvline(result["warmup_minutes"], color="grey", linestyle="--", label="end of warm-up")
    for e in result["events"]:
        ax.axvline(e["at_s"] / 60, color="tab:green" if e["kind"] == "add" else "tab:red", alpha=0.5, lw=1)
    ax.set_xlabel("minutes (green: article added, red: deleted)")
    ax.set_ylabel("MB")
    ax.set_title(f"citechat soak: {result['sessions']} sessions, growth {result['rss_mb']['growth_pct']}%")
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="soak run (`make soak`; SOAK_ARGS='--minutes 10' for a short one)")
    ap.add_argument("--minutes", type=float, default=60, help="length of the run")
    ap.add_argument("--sessions", type=int, default=4, help="concurrent gradio_client sessions")
    ap.add_argument("--warmup-minutes", type=float, help="RSS growth is measured after this (default 10%% of the run)")
    ap.add_argument("--every", type=float, default=60, help="seconds between add/delete events")
    ap.add_argument("--sample-seconds", type=float, default=10, help="seconds between RSS samples")
    ap.add_argument("--concurrency", type=int, help="the app's Gradio concurrency limit (default: its setting)")
    ap.add_argument("--questions", type=Path, help="question set (default evals/dev.jsonl)")
    ap.add_argument("--out", type=Path, default=RESULTS / "soak", help="writes <out>.json and <out>.md")
    ap.add_argument("--plot", type=Path, default=ROOT / "docs" / "soak-rss.png", help="RSS plot ('' for none)")
    args = ap.parse_args(argv)
    warmup = args.warmup_minutes if args.warmup_minutes is not None else args.minutes * 0.1
    print(f"soak: {args.minutes:g} min, {args.sessions} sessions, warm-up {warmup:g} min, "
          f"an event every {args.every:g} s", flush=True)
    result = run_soak(args.minutes, args.sessions, warmup, args.every, args.sample_seconds, args.concurrency,
                      args.questions)
    md = write_report(result, args.out, args.plot if str(args.plot) not in ("", ".") else None)
    print(md.read_text())
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
