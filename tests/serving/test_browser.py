"""The web page in a real headless Chromium (Debian's `chromium`, driven by Playwright): upload a wav or record
from a fake microphone, click Send, and see the answer stream in.

Set SOUNDWAVE_SCREENSHOT=docs/web-ui.png to save the page's screenshot there (default: a temporary file).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.serving.conftest import SPEECH

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",  # grant the microphone without a prompt
    "--use-fake-device-for-media-stream",  # ... and make it a test tone
]
# done: some answer text, and Stop disabled again (it is enabled while the request is in flight)
ANSWERED = "() => document.getElementById('answer').textContent && document.getElementById('stop').disabled"


@pytest.fixture(scope="module")
def playwright():
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright to test the web page")
    with sync_api.sync_playwright() as running:  # one per module: a second one cannot start beside it
        yield running


@pytest.fixture(scope="module")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
    yield browser
    browser.close()


def ask(page) -> str:
    page.wait_for_selector("#send:not([disabled])", timeout=20_000)
    page.click("#send")
    page.wait_for_function(ANSWERED, timeout=60_000)
    assert page.text_content("#error") == ""
    return page.text_content("#answer")


def test_upload_record_and_see_the_answer(browser, live_server, tmp_path):
    page = browser.new_page(viewport={"width": 900, "height": 860})
    console_errors = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    page.goto(live_server + "/")
    page.wait_for_function("() => document.getElementById('model').textContent.includes('soundwave-tiny')")
    page.fill("#max-tokens", "6")

    page.set_input_files("#file", str(SPEECH))
    page.wait_for_function("() => document.getElementById('audio-info').textContent.includes('4.3 s')")
    assert ask(page).strip()
    assert "done in" in page.text_content("#timing")
    screenshot = Path(os.environ.get("SOUNDWAVE_SCREENSHOT", tmp_path / "web-ui.png"))
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    page.click("#record")  # MediaRecorder on the fake microphone
    page.wait_for_selector("#record.recording")
    page.wait_for_timeout(800)  # record a little audio
    page.click("#record")
    page.wait_for_function("() => document.getElementById('audio-info').textContent.startsWith('recording:')")
    page.fill("#prompt", "Describe the sound.")
    assert ask(page).strip()
    assert console_errors == []


# done: some words, and Stop disabled again
TRANSCRIBED = "() => document.querySelectorAll('#answer .word').length && document.getElementById('stop').disabled"
WORDS = "() => [...document.querySelectorAll('#answer .word')].map(w => [+w.dataset.start, +w.dataset.end])"
CURRENT = "() => [...document.querySelectorAll('#answer .word')].flatMap((w, i) => w.matches('.current') ? [i] : [])"
PLAYED_TO = "(t) => { const p = player; p.currentTime = t; p.dispatchEvent(new Event('timeupdate')); }"  # id global


def test_transcript_words_seek_the_player_and_light_up_while_it_plays(browser, live_server):
    page = browser.new_page()
    console_errors = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    page.goto(live_server + "/")
    page.fill("#max-tokens", "40")
    page.set_input_files("#file", str(SPEECH))
    page.wait_for_selector("#transcribe:not([disabled])", timeout=20_000)
    page.click("#transcribe")  # verbose_json with word times from /v1/audio/transcriptions
    page.wait_for_function(TRANSCRIBED, timeout=60_000)
    assert page.text_content("#error") == ""
    times = page.evaluate(WORDS)  # [start, end] of each word, as the server placed them
    assert len(times) >= 2 and all(0 <= start <= end <= 4.3 for start, end in times)
    longest = max(range(len(times)), key=lambda i: times[i][1] - times[i][0])
    clicked = max((i for i in range(len(times)) if i != longest), key=lambda i: times[i][0])

    page.locator("#answer .word").nth(clicked).click()  # seeks the player to the word's start
    assert abs(page.evaluate("() => document.getElementById('player').currentTime") - times[clicked][0]) < 0.01
    assert page.evaluate(CURRENT) == [clicked]
    page.evaluate(PLAYED_TO, sum(times[longest]) / 2)  # as the player reports while it plays
    assert page.evaluate(CURRENT) == [longest]
    assert console_errors == []


# ---- Live: the fake microphone plays a real recording (looped) --------------------------------------------------
LIVE_ARGS = [*ARGS, f"--use-file-for-fake-audio-capture={SPEECH}"]
WATCH_PARTIAL = """() => { window.partials = [];
  new MutationObserver(() => window.partials.push(document.getElementById('partial').textContent))
    .observe(document.getElementById('partial'), { childList: true, characterData: true, subtree: true }); }"""
STYLE = "(selector) => { const s = getComputedStyle(document.querySelector(selector)); return [s.fontStyle, s.color]; }"


@pytest.fixture(scope="module")
def live_browser(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LIVE_ARGS, headless=True)
    yield browser
    browser.close()


def test_live_captions_from_the_microphone_then_a_question(live_browser, live_server):
    import time

    page = live_browser.new_page()
    console_errors = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    page.goto(live_server + "/")
    page.evaluate(WATCH_PARTIAL)
    page.click("#live")  # getUserMedia -> AudioWorklet -> 16 kHz PCM16 -> /v1/listen
    started = time.monotonic()
    page.wait_for_function("() => document.querySelectorAll('#finals .final').length >= 2", timeout=60_000)
    page.click("#live")  # stop: the microphone off, "finish" sent, the socket kept for questions
    listened = time.monotonic() - started
    page.wait_for_function("() => document.getElementById('live-status').textContent.startsWith('stopped after')")
    seconds = float(page.text_content("#live-status").split()[2])
    assert abs(seconds - listened) < 1.5, (seconds, listened)  # the device's rate really became 16 kHz
    assert any(page.evaluate("() => window.partials"))  # unsettled text showed before it settled
    partial, final = page.evaluate(STYLE, "#partial"), page.evaluate(STYLE, "#finals .final")
    assert partial[0] == "italic" and final[0] == "normal" and partial[1] != final[1]  # grey italic until final
    assert page.text_content("#partial") == ""
    page.fill("#max-tokens", "4")
    page.click("#live-ask")
    page.wait_for_function("() => !['', '…'].includes(document.getElementById('live-answer').textContent)")
    assert page.text_content("#error") == ""
    assert console_errors == []
