"""LLM mode in the browser: unverified sentences are shown in a different style and never as cited.
The LLM here is the fake server of fake_llm.py, because a real model can't be made to fabricate on demand."""

from __future__ import annotations

import pytest

from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, AppServer, copy_articles
from conftest import ARTICLES

pw = pytest.importorskip("playwright.sync_api")


def test_unverified_sentence_is_flagged_in_the_ui(fake_server, tmp_path):
    url = fake_server("Liu Sheng and Vanderfan presented flags to the 11 leading units [1]. "
                      "The ceremony was led by John Fakename [1].")
    srv = AppServer(copy_articles(ARTICLES, tmp_path / "articles"), tmp_path / "index",
                    extra_env={"CITECHAT_LLM": "openai-like", "CITECHAT_LLM_BASE_URL": url})
    try:
        with pw.sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = b.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(srv.url)
            page.fill("#question textarea", "Who presented flags in Luohu?")
            page.click("#send")
            page.wait_for_selector("#sources-panel section.turn .src", timeout=30000)
            bot = page.locator("#chat .bot").last
            assert "Liu Sheng" in bot.inner_text()
            flagged = bot.locator(".unverified")
            assert flagged.count() == 1 and "John Fakename" in flagged.inner_text()
            assert "unverified" in flagged.inner_text()
            assert flagged.locator("a.cite").count() == 0  # never shown as cited
            assert bot.locator("a.cite").count() == 1
            page.screenshot(path=str(ARTIFACTS / "llm_unverified.png"))
            b.close()
    finally:
        srv.stop()
