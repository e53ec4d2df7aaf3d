"""Hostile input, seventh round (2026-12-06): what the sixth round's note left open."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.test_hostile import SMALL  # the small problem of the first round
from tests.test_hostile_outputs import run, write

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_PLAN = ROOT / "tests" / "golden" / "solve" / "deepseek_qps.json"


@pytest.mark.parametrize("value, shown, read", [
    ("!!int 3:20", "3:20", "200"), ("!!float 1:30.5", "1:30.5", "90.5"), ("!!int -1:00", "-1:00", "-60")])
def test_a_tagged_base_60_number_is_refused(tmp_path, value, shown, read):
    """The resolvers leave a plain `3:20` text, but with the tag YAML 1.1 read `!!int 3:20` as 200
    and planned 200 req/s at exit 0. Now exit 2 naming the line and what YAML would read."""
    p = write(tmp_path, yaml.safe_dump(SMALL).replace("qps: 5", f"qps: {value}"))
    code, out = run("solve", p)
    line = next(i for i, t in enumerate(p.read_text().splitlines(), 1) if "qps:" in t)
    assert code == 2, out
    assert f"p.yaml: line {line}, column 8: {shown} is a base-60 number in YAML 1.1 ({read}); write {read}" in out, out


def test_tagged_numbers_in_base_10_are_still_read(tmp_path):
    from planner.input.files import read_yaml
    assert read_yaml(write(tmp_path, "a: !!int 12\nb: !!float 1.5\nc: !!float 1e3\nd: 3:20\n", "y.yaml")) == \
        {"a": 12, "b": 1.5, "c": 1000.0, "d": "3:20"}


def test_binary_data_is_refused_in_its_own_words(tmp_path):
    """`qps: !!binary aGVsbG8=` reached the schema as bytes: 'unable to parse string as a number (got b'hello')'."""
    p = write(tmp_path, yaml.safe_dump(SMALL).replace("qps: 5", "qps: !!binary aGVsbG8="))
    code, out = run("solve", p)
    assert code == 2 and "!!binary data: no planner value is binary; write the value itself" in out, out
    assert "b'hello'" not in out


@pytest.mark.parametrize("image, message", [
    ("reg.io:99999/x", "--image 'reg.io:99999/x': the registry's port 99999 is past 65535"),
    ("a" * 300, "its name (registry and path) has 300 characters; an image name has at most 255"),
    ("reg.io/" + "a" * 250 + ":v1", "its name (registry and path) has 257 characters"),
    ("reg.io:" + "9" * 5000 + "/x", "the registry's port 99999999999… is past 65535"),   # int() of it raised
    ("reg.io:065536/x", "the registry's port 065536 is past 65535"),
])
def test_export_refuses_an_image_no_registry_serves(tmp_path, image, message):
    """The reference grammar accepted a port past 65535 and a name of any length; a pull refuses
    both, so the manifests were written and never started."""
    code, out = run("export", GOLDEN_PLAN, "--target", "k8s", "--out", tmp_path / "x", "--image", image)
    assert code == 2 and message in out, out
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("image", ["reg.io:65535/x:1", "reg.io/" + "a" * 248 + ":" + "t" * 100,
                                   "localhost:5000/x@sha256:" + "a" * 64])
def test_export_takes_images_at_the_limits(tmp_path, image):
    code, out = run("export", GOLDEN_PLAN, "--target", "k8s", "--out", tmp_path / "x", "--image", image)
    assert code == 0, out
    assert f"image: {image}" in "".join(p.read_text() for p in (tmp_path / "x").glob("*.yaml"))


def _trace(tmp_path):
    rows = ["timestamp,input_tokens,output_tokens"]
    rows += [f"2026-12-01T{h:02d}:{m:02d}:00,800,100" for h in range(24) for m in range(0, 60, 10)]
    (tmp_path / "trace.csv").write_text("\n".join(rows) + "\n")


def test_a_trace_scale_that_underflows_is_blamed_on_the_scale(tmp_path):
    """`scale: 5e-324` turned every period's requests/s into 0 and was told 'no requests fall in
    any period' of a trace of 144 requests; it is now the scale's message, as at 1e-300."""
    _trace(tmp_path)
    p = write(tmp_path, {**SMALL, "workload": {"trace": {"file": "trace.csv", "scale": 5e-324}}})
    code, out = run("solve", p)
    assert code == 2, out
    assert "p.yaml: workload.trace.scale: 4.94066e-324 makes the busiest period 0 requests/s, below 1e-15" in out, out


def test_load_labels_of_a_narrow_qps_sweep_are_told_apart(tmp_path):
    """`--qps 5:5.000001` printed three rows reading '5' (a label in %g); as the latency limits
    do, the labels take the digits that tell them apart, in the table and the HTML."""
    code, out = run("sweep", write(tmp_path, SMALL), "--qps", "5:5.000001", "--points", "3", "--out", tmp_path / "s")
    assert code == 0, out
    labels = [line.split()[0] for line in out.splitlines()[-3:]]
    assert labels == ["5", "5.0000005", "5.000001"], out
    page = (tmp_path / "s" / "frontier.html").read_text()
    assert all(f"<td>{x}</td>" in page for x in labels)
    # the chart's load axis too: its ticks all read '5' in %g
    ticks = re.findall(r'text-anchor="middle">([0-9.]+)</text>', page)
    assert len(ticks) > 2 and len(set(ticks)) == len(ticks) and "5.0000002" in ticks, ticks


def test_a_narrow_sweeps_last_tick_stays_on_the_page_and_its_tooltips_tell_loads_apart(tmp_path):
    """`--qps 150:150.0001`: the last tick, '150.0001', was centred on the panel's right edge and
    ran past the SVG's (Chromium showed '150.000'); it now ends at its tick. The points' tooltips
    all read '150 req/s' (%g) while the ticks and the table told the loads apart."""
    code, out = run("sweep", write(tmp_path, SMALL), "--qps", "5:5.000001", "--points", "3", "--out", tmp_path / "s")
    assert code == 0, out
    page = (tmp_path / "s" / "frontier.html").read_text()
    ticks = re.findall(r'<text class="xtick" x="([0-9.]+)" y="[0-9.]+" text-anchor="(\w+)">([0-9.]+)</text>', page)
    assert ticks[-1] == ("840.0", "end", "5.0000012"), ticks   # the plot's right edge, 20 px inside the SVG's
    assert {a for _, a, _ in ticks[:-1]} == {"middle"}, ticks
    tips = re.findall(r'data-tip="[^"]*?(\S+) req/s\n', page)
    assert tips == ["5", "5.0000005", "5.000001"], tips


def test_a_tick_label_is_centred_unless_it_would_pass_the_right_edge():
    from planner.report.frontier_html import tick_anchor
    assert [tick_anchor(840.0, s) for s in ("200", "1000", "150.0001")] == ["middle", "middle", "end"]
    assert tick_anchor(455.0, "150.00004") == "middle"


def test_narrow_labels_keep_six_digits_when_they_differ():
    from planner.report.format import distinct_numbers
    assert distinct_numbers([5.0, 7.5, 10.0]) == {5.0: "5", 7.5: "7.5", 10.0: "10"}
    assert distinct_numbers([1.0, 1.0 + 2 ** -52]) == {1.0: "1", 1.0 + 2 ** -52: "1.0000000000000002"}


def test_a_scenario_that_removes_every_gpu_is_told_so(tmp_path):
    """The merged problem's pydantic wording ('gpus: List should have at least 1 item after
    validation, not 0') named neither the scenario's field nor what happened."""
    base = write(tmp_path, {**SMALL, "gpus": ["h100", "h200"]})
    s = write(tmp_path, "name: none\ngpus:\n  remove: [h100, H200]\n", "s.yaml")
    code, out = run("whatif", base, s)
    assert code == 2 and out.strip() == (
        f"error: {s}: gpus.remove: removes every GPU type of the base (h100, h200) and adds or buys none; a plan "
        f"needs at least one (gpus.set replaces the list)"), out
    e = write(tmp_path, "name: none\ngpus: {set: []}\n", "e.yaml")
    code, out = run("whatif", base, e)
    assert code == 2 and "e.yaml: gpus.set: an empty list leaves no GPU type to plan on" in out, out
    assert "List should have at least 1 item" not in out


BUY_H200 = "buy: {gpu: h200, nodes: 1, price_per_node: 2300000, months: 36, electricity_per_kwh: 0.6}\n"


@pytest.mark.parametrize("instead", ["  add: [h200]\n", BUY_H200])
def test_a_scenario_may_swap_every_gpu_for_another(tmp_path, instead):
    """Removing every GPU type is fine when the scenario adds one, or buys one (`buy:` adds its GPU
    to the list after the removals)."""
    base = write(tmp_path, {**SMALL, "gpus": ["h100"]})
    s = write(tmp_path, "name: swap\ngpus:\n  remove: [h100]\n" + instead, "s.yaml")
    code, out = run("whatif", base, s)
    assert code == 0 and "H200" in out.split("swap", 1)[1], out
    if instead == BUY_H200:   # renting instead of buying has no GPU left: the comparison says so
        assert "n/a (renting alone is infeasible)" in out, out


@pytest.mark.parametrize("link", ["loop", "dangling"])
def test_a_profile_link_that_leads_nowhere_is_named(tmp_path, monkeypatch, link):
    """A link in ./catalogs/calibration round a loop, or to a missing file, was 'unknown
    calibration profile' beside a listing that did not show it."""
    d = tmp_path / "catalogs" / "calibration"
    d.mkdir(parents=True)
    (d / "mine.yaml").symlink_to("mine.yaml" if link == "loop" else "gone.yaml")
    monkeypatch.chdir(tmp_path)
    code, out = run("solve", write(tmp_path, {**SMALL, "calibration": "mine"}))
    assert code == 2, out
    assert f"calibration: {d / 'mine.yaml'}: a symbolic link that leads to no file" in out, out


@pytest.mark.parametrize("written, offered", [("h１00", "Did you mean 'h100'?"), ("Ｈ２００", "Did you mean 'h200'?"),
                                              ("H200x", "Did you mean 'h200' or 'h20' or 'h800'?")])
def test_a_gpu_in_full_width_or_capitals_is_offered_its_catalog_id(tmp_path, written, offered):
    """'h１00' (a full-width digit an input method typed) was offered 'h800' or 'h200': the names
    are compared in Unicode compatibility form and any case (round eight left this)."""
    code, out = run("solve", write(tmp_path, {**SMALL, "gpus": [written]}))
    assert code == 2 and f"unknown GPU {written!r}" in out and out.rstrip().endswith(offered), out


def _profile(tmp_path, stem: str, inner: str) -> Path:
    here = tmp_path / "catalogs" / "calibration"
    here.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "catalogs" / "calibration" / "vllm.yaml").read_text()
    return write(here, text.replace("\nname: vllm\n", f"\nname: {inner}\n"), f"{stem}.yaml")


def test_a_profile_whose_name_is_not_its_files_is_refused_by_name(tmp_path, monkeypatch):
    """catalogs/calibration/mine.yaml holding `name: prod`: `calibration: mine` planned at exit 0
    and every plan printed 'calibration: prod', a name no problem could give (unknown profile)."""
    monkeypatch.chdir(tmp_path)
    _profile(tmp_path, "mine", "prod")
    code, out = run("solve", write(tmp_path, SMALL), "--calibration", "mine")
    assert code == 2, out
    assert (f"{tmp_path}/catalogs/calibration/mine.yaml: name: 'prod' differs from the file's name 'mine'; "
            "problems name a profile by its file (calibration: mine) and plans print its name: write name: mine, "
            "or rename the file to prod.yaml") in " ".join(out.split()), out
    _profile(tmp_path, "prod", "prod")   # the fix it names plans
    code, out = run("solve", write(tmp_path, SMALL), "--calibration", "prod")
    assert code == 0 and "calibration: prod " in out, out


def test_a_profile_named_by_path_keeps_the_name_plan_calibrate_gave_it(tmp_path, monkeypatch):
    """`plan calibrate --out mine.yaml --name prod` writes name: prod on purpose; given by path, it plans."""
    monkeypatch.chdir(tmp_path)
    p = _profile(tmp_path, "mine", "prod")
    code, out = run("solve", write(tmp_path, SMALL), "--calibration", p)
    assert code == 0 and "calibration: prod " in out, out


def test_every_shipped_profile_is_named_as_its_file():
    from planner.catalog.calibration import CALIBRATION_DIR, load_calibration
    stems = sorted(q.stem for q in CALIBRATION_DIR.glob("*.yaml"))
    assert stems == ["default", "roofline", "sglang", "trtllm", "vllm"]
    assert [load_calibration(s).name for s in stems] == stems


def test_calibrate_refuses_a_name_unlike_its_file_among_the_profiles(tmp_path, monkeypatch):
    """`plan calibrate --out catalogs/calibration/mine.yaml --name prod` would write a profile that
    `calibration: mine` refuses and `calibration: prod` cannot find: refused before any fitting."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "catalogs" / "calibration").mkdir(parents=True)
    runs = write(tmp_path, "x\n", "runs.csv")
    code, out = run("calibrate", runs, "--out", "catalogs/calibration/mine.yaml", "--name", "prod")
    assert code == 2, out
    assert ("--name prod: the profile goes to catalogs/calibration/mine.yaml, where problems name it by its file "
            "(calibration: mine) and a profile's name must be its file's; drop --name, or write --out "
            "catalogs/calibration/prod.yaml") in " ".join(out.split()), out
    assert not (tmp_path / "catalogs" / "calibration" / "mine.yaml").exists()
