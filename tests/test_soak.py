"""The soak run (bench/soak.py, `make soak`) for about a minute: the real app on a real Chroma server, an article
added and deleted by another process while four sessions ask."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import soak


def test_short_soak_has_no_errors_and_measures_rss(tmp_path: Path) -> None:
    out, plot = tmp_path / "soak", tmp_path / "soak.png"
    # 75 s with a 20 s warm-up, an event every 15 s: adds and deletes both happen (about 4 events).
    status = soak.main(["--minutes", "1.25", "--sessions", "4", "--warmup-minutes", "0.33", "--every", "15",
                        "--sample-seconds", "5", "--out", str(out), "--plot", str(plot)])
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["errors"] == 0, result["error_samples"]
    assert result["app_alive"]
    assert result["crossed_answers"] == 0, result["crossed_samples"]
    assert result["answers"] >= 20
    assert result["adds"] >= 1 and result["deletes"] >= 1, result["events"]
    rss = result["rss_mb"]
    assert rss["start"] > 100 and rss["end"] > 100 and rss["max"] >= max(rss["start"], rss["end"])
    assert isinstance(rss["growth_pct"], float)
    # Growth is measured, not held to the 5% goal: over one minute with an ingest landing it is noise
    # (allocator arenas, Gradio's first requests), so the goal belongs to `make soak`'s long run.
    assert len(result["rss_samples"]) >= 10
    assert abs(rss["growth_pct"] - (rss["end"] - rss["start"]) / rss["start"] * 100) < 0.5  # from the MB figures
    # The verdict, worked out here from the run's own figures: the exit status and the report must both say it.
    passed = result["errors"] == 0 and rss["growth_pct"] <= soak.GROWTH_GOAL_PCT
    assert result["pass"] is passed and status == (0 if passed else 1), (result["pass"], status, rss)
    md = out.with_suffix(".md").read_text()
    assert "crossed answers | 0" in md
    assert f"**{'PASS' if passed else 'FAIL'}**" in md and f"**{'FAIL' if passed else 'PASS'}**" not in md, md
    assert plot.stat().st_size > 1000


def _tally(rss_kb: list[int], event_ok: bool = True) -> soak.Tally:
    """A finished minute: answers, one add event, and RSS samples 20 s apart (the first one before warm-up)."""
    tally = soak.Tally(t0=time.perf_counter() - 60)
    tally.latencies = [(float(i), 100.0 + i) for i in range(10)]
    tally.rss = [(20.0 * i, kb) for i, kb in enumerate(rss_kb)]
    tally.events = [{"at_s": 30.0, "kind": "add", "ok": event_ok, "seconds": 2.0,
                     "error": None if event_ok else "ingest did not report the change"}]
    return tally


@pytest.mark.parametrize("rss_kb, event_ok, verdict", [
    ([150_000, 200_000, 204_000, 209_000], True, "PASS"),   # +4.5% after warm-up (the growth before it is ignored)
    ([150_000, 200_000, 205_000, 212_000], True, "FAIL"),   # +6%: over the 5% goal
    ([150_000, 200_000, 200_000, 200_000], False, "FAIL"),  # no growth, but a failed event is an error
])
def test_soak_verdict_follows_the_figures(tmp_path: Path, rss_kb: list[int], event_ok: bool, verdict: str) -> None:
    result = soak.summarise(_tally(rss_kb, event_ok), minutes=1, sessions=1, warmup_minutes=0.25, every=15,
                            refs_changed=0, app_alive=True)
    assert result["rss_mb"]["growth_pct"] == round((rss_kb[-1] - rss_kb[1]) / rss_kb[1] * 100, 2)
    assert result["errors"] == (0 if event_ok else 1)
    assert result["pass"] is (verdict == "PASS")
    md = soak.write_report(result, tmp_path / "soak", None).read_text()
    assert f"**{verdict}**" in md and f"**{'FAIL' if verdict == 'PASS' else 'PASS'}**" not in md, md
