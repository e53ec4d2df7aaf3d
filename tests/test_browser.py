"""frontier.html in a real browser: headless Chromium (Debian's package) loads the page with
`#selftest`, whose script clicks a legend entry, zooms a panel and sorts the table, then writes
what happened into the page; the test reads the DOM Chromium dumps after the scripts ran.

On CI (`CI` set, `.ci/run` installs Chromium) a missing browser fails the test; elsewhere it skips."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from planner.input.load import load_problem
from planner.report.frontier_html import render_html
from planner.studies.sweep import parse_axis, run_sweep

ROOT = Path(__file__).resolve().parents[1]
BROWSER = next((b for b in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                if b and Path(b).exists()), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    if BROWSER is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Chromium (.ci/run installs Debian's chromium package)")
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    path = ROOT / "problems" / "deepseek_qps.yaml"
    sweep = run_sweep(load_problem(path), str(path), [parse_axis("tpot", "30ms:80ms", 3)], workers=1)
    out = tmp_path_factory.mktemp("html") / "frontier.html"
    out.write_text(render_html(sweep), encoding="utf-8")
    return sweep, out


def dump_dom(url: str, profile: Path) -> str:
    return subprocess.run([BROWSER, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=5000",
                           "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout


def test_the_page_renders_and_its_controls_work(page, tmp_path):
    sweep, html = page
    dom = dump_dom(html.as_uri() + "#selftest", tmp_path / "profile")
    m = re.search(r'<pre id="selftest">(.*?)</pre>', dom, re.S)
    assert m, "the self-test did not run (no script output in the DOM)"
    got = dict(line.split(" ", 1) for line in m.group(1).strip().splitlines())
    assert got["panels"] == "1" and int(got["curves"]) == len(sweep.curves) == int(got["legend"])
    assert got["toggled"] == "true" and got["zoomed"] == "true" and got["sorted"] == "true"
    assert int(got["bbox"]) > 100          # the optimum's line was laid out with a real width
    assert "Key: where the optimum" in dom and "the problem's target" in dom


def test_a_narrow_sweeps_tick_labels_stay_inside_the_chart(tmp_path):
    """`--qps 150:150.0001`: the last tick label, centred on the panel's right edge, ran past the
    SVG's and was cut to '150.000'. Chromium lays the labels out; the self-test checks their boxes."""
    if BROWSER is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    path = ROOT / "problems" / "deepseek_qps.yaml"
    sweep = run_sweep(load_problem(path), str(path), [parse_axis("qps", "150:150.0001", 7)], workers=1,
                      per_gpu=False)
    html = tmp_path / "frontier.html"
    html.write_text(render_html(sweep), encoding="utf-8")
    m = re.search(r'<pre id="selftest">(.*?)</pre>', dump_dom(html.as_uri() + "#selftest", tmp_path / "profile"), re.S)
    assert m, "the self-test did not run (no script output in the DOM)"
    got = dict(line.split(" ", 1) for line in m.group(1).strip().splitlines())
    assert got["xticks"] == "7 inside 7", got   # 6 inside of 7 before


def test_a_problem_name_opening_an_html_comment_leaves_the_scripts_running(tmp_path):
    """The sweep's JSON sits in a <script type="application/json"> block with only '</' escaped: a
    problem named '<!--<script>' put HTML's tokenizer into its escaped script states, the block's
    own </script> no longer closed it, and the page's script never ran (no legend, zoom or sort;
    hostile-input hunt, 2026-12-06). Every '<' of the data is written \\u003c now."""
    import json

    import yaml
    name = "<!--<script>"
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump({"name": name, "model": "llama-3.1-8b", "gpus": ["h100"],
                                 "workload": {"qps": 3, "input_tokens": 500, "output_tokens": 100},
                                 "slo": {"ttft": "2s", "tpot": "50ms"}}))
    sweep = run_sweep(load_problem(p), str(p), [parse_axis("tpot", "30ms:80ms", 3)], workers=1)
    html = tmp_path / "frontier.html"
    html.write_text(render_html(sweep), encoding="utf-8")
    block = re.search(r'<script type="application/json" id="frontier-data">(.*?)</script>', html.read_text(), re.S)
    assert "<" not in block.group(1) and json.loads(block.group(1))["problem"] == name
    if BROWSER is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    m = re.search(r'<pre id="selftest">(.*?)</pre>', dump_dom(html.as_uri() + "#selftest", tmp_path / "profile"), re.S)
    assert m, "the self-test did not run (no script output in the DOM)"
    got = dict(line.split(" ", 1) for line in m.group(1).strip().splitlines())
    assert got["toggled"] == "true" and got["zoomed"] == "true" and got["sorted"] == "true", got
