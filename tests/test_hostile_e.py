"""Hostile input, fifth round (2026-12-06): what the fourth round's note left open."""

from __future__ import annotations

import pytest

from tests.test_hostile import SMALL  # the small problem of the first round
from tests.test_hostile_d import ROOT
from tests.test_hostile_outputs import run, write


def _iso_trace(tmp_path, joined_by: str):
    """A day of ISO 8601 timestamps, the 13th request's (line 14's) date and time joined by `joined_by`."""
    rows = ["timestamp,input_tokens,output_tokens"]
    for h in range(24):
        rows += [f"2026-12-01T{h:02d}:{m:02d}:00,800,100" for m in range(0, 60, 10)]
    rows[13] = f'"2026-12-01{joined_by}02:00:00",800,100'
    p = tmp_path / "trace.csv"
    p.write_text("\n".join(rows) + "\n")
    return p


@pytest.mark.parametrize("joined_by", ["\n", "x", "\t"])
def test_a_timestamps_date_and_time_joined_by_another_character_is_refused(tmp_path, joined_by):
    """Python 3.11 reads any one character between an ISO 8601 date and time: a quoted field with a
    newline there passed as a date-time. Now exit 2 naming the file, the line and the character."""
    _iso_trace(tmp_path, joined_by)
    p = write(tmp_path, {**SMALL, "workload": {"trace": {"file": "trace.csv"}}})
    code, out = run("solve", p)
    assert code == 2, out
    assert "trace.csv: line 14: timestamp" in out and f"its date and time are joined by {joined_by!r}" in out, out
    assert "Traceback" not in out


@pytest.mark.parametrize("joined_by", ["T", " ", "t"])
def test_a_timestamps_date_and_time_joined_by_t_or_a_space_is_read(tmp_path, joined_by):
    _iso_trace(tmp_path, joined_by)
    p = write(tmp_path, {**SMALL, "workload": {"trace": {"file": "trace.csv"}}})
    code, out = run("solve", p)
    assert code == 0, out
    assert "load from trace" in out and "144 requests over" in out, out


@pytest.mark.parametrize("stem", ["-", "_x", "my fit"])
def test_the_out_files_stem_that_names_a_profile_obeys_the_name_rule(tmp_path, stem):
    """Without --name the --out file's stem names the profile: `--out -.yaml` wrote a profile named
    '-', which `--name -` is refused for. The stem is held to the same rule; --name still names a
    profile whatever its file is called."""
    csv = tmp_path / "m.csv"
    csv.write_bytes((ROOT / "tests" / "data" / "bench" / "minimal_sample.csv").read_bytes())
    out_file = tmp_path / f"{stem}.yaml"
    code, out = run("calibrate", csv, "--folds", "0", "--out", out_file)
    assert code == 2 and out.strip() == (
        f"error: --out {str(out_file)!r}: the file name becomes the profile's name, {stem!r}, which no problem can "
        "name (calibration: NAME): letters, digits and '.', '_', '+', '-', starting with a letter or digit; rename "
        "the file or give --name"), out
    assert not out_file.exists()
    code, out = run("calibrate", csv, "--folds", "0", "--out", out_file, "--name", "my-fit")
    assert code == 0 and "name: my-fit" in out_file.read_text(), out


# ------------------------------------------------------------------ sixth round (2026-12-06, later)
@pytest.mark.parametrize("encoding, mark", [
    ("utf-16", "UTF-16 text (it starts with the UTF-16 byte-order mark FF FE)"),
    ("utf-32", "UTF-32 text (it starts with the UTF-32 byte-order mark FF FE 00 00)")])
def test_a_utf16_file_is_named_so(tmp_path, encoding, mark):
    """Windows PowerShell 5's `plan init > p.yaml` writes UTF-16 with a byte-order mark: the message
    was Python's "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte". Now it
    names the encoding and what to do, for a problem file and for a trace."""
    import yaml
    p = tmp_path / "p.yaml"
    p.write_bytes(yaml.safe_dump(SMALL).encode(encoding))
    code, out = run("solve", p)
    assert code == 2 and out.strip() == f"error: {p}: {mark}; plan reads UTF-8: save the file as UTF-8", out
    (tmp_path / "t.csv").write_bytes("timestamp,input_tokens,output_tokens\n0,800,100\n".encode(encoding))
    t = write(tmp_path, {**SMALL, "workload": {"trace": {"file": "t.csv"}}}, "t.yaml")
    code, out = run("solve", t)
    assert code == 2 and out.strip().endswith(f"t.csv: {mark}; plan reads UTF-8: save the file as UTF-8"), out


def test_a_trace_in_unix_milliseconds_is_refused_not_read_as_seconds(tmp_path):
    """A day of timestamps in Unix milliseconds (1764547200000, …) was read as seconds: with
    `fold: day`, 144 requests over 23,833 h, a plan at a peak of 2.24e-06 requests/s. Now exit 2
    naming the line and the unit."""
    rows = ["timestamp,input_tokens,output_tokens"] + [f"{1764547200000 + i * 600_000},800,100" for i in range(144)]
    (tmp_path / "ms.csv").write_text("\n".join(rows) + "\n")
    p = write(tmp_path, {**SMALL, "workload": {"trace": {"file": "ms.csv", "fold": "day"}}})
    code, out = run("solve", p)
    assert code == 2 and "ms.csv: line 2: timestamp '1764547200000' as seconds falls past the year 9999; plan " \
        "reads a number as seconds: milliseconds or microseconds (Unix time in ms is 13 digits)? divide the column " \
        "by 1,000 or 1,000,000" in out, out
    (tmp_path / "ms.csv").write_text("\n".join(r if i == 0 else f"{int(r.split(',')[0]) // 1000},800,100"
                                               for i, r in enumerate(rows)) + "\n")
    code, out = run("solve", p)
    assert code == 0 and "144 requests over 23.8 h, folded onto one day" in out, out


@pytest.mark.parametrize("model_path", ["~/models/llama", "$HOME/models/llama", "/data/${MODEL}"])
def test_a_model_path_with_tilde_or_a_variable_is_refused(tmp_path, model_path):
    """`plan export … --model-path=~/models/llama` reaches plan unexpanded (bash expands ~ after '='
    in assignments only), and the launch scripts wrote `vllm serve '~/models/llama'`: quoted, so the
    engine looked for a folder named '~'. Now exit 2 before anything is written."""
    p = write(tmp_path, SMALL)
    code, out = run("solve", p, "--out", tmp_path / "plan.json")
    assert code == 0, out
    code, out = run("export", tmp_path / "plan.json", "--target", "vllm", "--out", tmp_path / "ex",
                    f"--model-path={model_path}")
    assert code == 2 and out.strip() == (
        f"error: --model-path {model_path!r}: the scripts and manifests quote it, so no shell expands ~ or "
        "$VARIABLES in it and the engine would look for a folder of that very name: write the path out "
        "(e.g. /home/me/models/x)"), out
    assert not (tmp_path / "ex").exists()


@pytest.mark.parametrize("env", [{"XDG_CACHE_HOME": "rel"}, {"XDG_CACHE_HOME": "", "HOME": "rel"}])
def test_a_relative_cache_home_is_ignored_not_written_into_the_working_directory(tmp_path, monkeypatch, env):
    """`XDG_CACHE_HOME=rel plan catalog gpus` made `rel/planner/` in whatever directory plan ran in
    (the XDG spec: a relative path is invalid and ignored). Now the home's .cache is used, and with
    a relative HOME too, no cache at all."""
    monkeypatch.delenv("PLANNER_CACHE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    from planner.codecache import cache_dir
    assert cache_dir() == (None if env.get("HOME") else tmp_path / "home" / ".cache" / "planner")
    code, out = run("catalog", "gpus")
    assert code == 0, out
    assert not (tmp_path / "rel").exists()


def test_a_compile_table_full_of_texts_not_ours_is_rewritten(tmp_path):
    """A compile table of 9,000 entries (valid marshal, nothing planner compiles) filled the 8,192
    the table may keep: every run compiled everything and, having kept nothing new, never rewrote
    it, so the cache stayed useless for good. Now a run's own texts are kept and the table rewritten
    with them alone."""
    import marshal

    from planner.codecache import CompiledCode
    path = tmp_path / "compiled-solve.marshal"
    path.write_bytes(marshal.dumps({("exec", f"x = {i}"): 0 for i in range(9000)}))
    code = CompiledCode(path)
    code.compiled("y = 1", "exec")
    code.save()
    assert list(marshal.loads(path.read_bytes())) == [("exec", "y = 1")]


def test_calibrate_out_named_only_dot_yaml_is_told_what_is_missing(tmp_path):
    """`plan calibrate M --out .yaml` was told "the profile must be a .yaml file", of a name that
    ends in .yaml (Python reads '.yaml' as a hidden file without a suffix). Now the message says
    the name before .yaml is missing."""
    csv = tmp_path / "m.csv"
    csv.write_bytes((ROOT / "tests" / "data" / "bench" / "minimal_sample.csv").read_bytes())
    out_file = tmp_path / ".yaml"
    code, out = run("calibrate", csv, "--folds", "0", "--out", out_file)
    assert code == 2 and out.strip() == (
        f"error: --out {out_file}: no name before .yaml (a hidden file of that name); the profile's file is "
        "NAME.yaml, and NAME becomes the profile's name"), out
    assert not out_file.exists()


def test_the_catalog_cache_prunes_its_own_entries_alone(tmp_path, monkeypatch):
    """With PLANNER_CACHE_DIR=. in a project folder holding `models-v1.pickle` … `models-v20.pickle`,
    a solve deleted the five oldest of the user's files: the catalog cache keeps 16 entries a kind
    and pruned every `models-*.pickle`. Now only names of its own form (32 hex digits) go."""
    import os

    from planner.catalog import cache
    for i in range(1, 21):
        f = tmp_path / f"models-v{i}.pickle"
        f.write_text(f"my model {i}\n")
        os.utime(f, (1e9 + i, 1e9 + i))
    monkeypatch.setenv("PLANNER_CACHE_DIR", str(tmp_path))
    cache._store(tmp_path / ("models-" + "0" * 32 + ".pickle"), (cache.FORMAT, "models", 1))
    kept = sorted(p.name for p in tmp_path.glob("models-v*.pickle"))
    assert kept == sorted(f"models-v{i}.pickle" for i in range(1, 21)), kept
    assert (tmp_path / "models-v1.pickle").read_text() == "my model 1\n"


def test_a_trace_mixing_timestamps_with_and_without_an_offset_is_refused(tmp_path):
    """A day in +08:00 whose first half lost its offset (`2026-12-01T11:50:00` then
    `2026-12-01T12:00:00+08:00`): the rows without were taken as UTC, 8 h from the others: the day
    was "15.8 h" (16 periods, refused without the cause; a fold read each row's clock as written, the
    docs' UTC aside). Now exit 2 naming both lines;
    'Z' beside rows without an offset is still read."""
    rows = ["timestamp,input_tokens,output_tokens"]
    rows += [f"2026-12-01T{i // 6:02d}:{i % 6 * 10:02d}:00{'+08:00' if i >= 72 else ''},800,100" for i in range(144)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    p = write(tmp_path, {**SMALL, "workload": {"trace": {"file": "t.csv"}}})
    code, out = run("solve", p)
    assert code == 2 and "t.csv: line 74: timestamp '2026-12-01T12:00:00+08:00' has a UTC offset where line 2's " \
        "'2026-12-01T00:00:00' has none, which plan takes as UTC (8 h from the same clock time with the offset): " \
        "give every timestamp its offset, or none" in out, out
    (tmp_path / "t.csv").write_text("\n".join(r.replace("+08:00", "Z") for r in rows) + "\n")
    code, out = run("solve", p)
    assert code == 0 and "144 requests over 23.8 h" in out, out


@pytest.mark.parametrize("cell", ["٣٢", "３２"])
def test_measurement_numbers_in_other_digits_are_refused_as_in_traces(tmp_path, cell):
    """A minimal-CSV concurrency of '٣٢' (Arabic-Indic) or '３２' (fullwidth), or a silicon-CSV TTFT
    so written, was read as 32 (Python's float reads any script's digits): traces and problem files
    refuse them as no CSV writer's. Now the minimal row is refused by name and the silicon row dropped."""
    csv = tmp_path / "m.csv"
    text = (ROOT / "tests" / "data" / "bench" / "minimal_sample.csv").read_text()
    lines = text.splitlines()
    assert ",agg,32," in lines[1]
    csv.write_text("\n".join([lines[0], lines[1].replace(",agg,32,", f",agg,{cell},"), *lines[2:]]) + "\n")
    code, out = run("validate", csv, "--folds", "0")
    assert code == 2 and f"m.csv: line 2: concurrency: '{cell}' is not a number in ASCII digits" in out, out
    from planner.fidelity.measurements import load_points
    from tests.test_measurements import _row, _write
    points, report = load_points([_write(tmp_path, [_row("ok"), _row("odd", ttft=cell, tpot="13")])])
    assert report.kept == 1 and report.dropped == {"silicon_ttft_ms is not a number": 1}, report.dropped


def test_an_empty_plan_or_config_json_is_called_empty(tmp_path):
    """`plan solve p.yaml --json > plan.json` that stops on an error leaves plan.json empty, and
    `plan simulate plan.json` said `not valid JSON at line 1, column 1: Expecting value` (an empty
    YAML file is 'the file is empty'). Now said so, for a plan and a model's config.json."""
    (tmp_path / "plan.json").write_text("")
    code, out = run("simulate", tmp_path / "plan.json")
    assert code == 2 and out.strip() == (f"error: {tmp_path / 'plan.json'}: the file is empty, as `plan solve … "
                                         "--json > FILE` leaves it when it stops on an error"), out
    (tmp_path / "config.json").write_text("\n \n")
    code, out = run("solve", write(tmp_path, {**SMALL, "model": "config.json"}))
    assert code == 2 and out.strip().endswith("config.json: the file is empty"), out


def test_a_chart_or_plot_named_only_by_its_extension_is_told_what_is_missing(tmp_path):
    """`plan solve DAY --chart .html` was told "the file name must end .png or .html", and `plan
    validate M --out-plot .png` "use a .png path", of names that end so (Python reads '.html' as a
    hidden file without a suffix). Now both say the name before it is missing."""
    day = {**SMALL, "workload": {**SMALL["workload"], "profile": {"period": "1h", "qps_fraction": [0.5] * 23 + [1.0]}}}
    chart = tmp_path / ".html"
    code, out = run("solve", write(tmp_path, day), "--chart", chart)
    assert code == 2 and out.strip() == (f"error: --chart {chart}: no name before .html (a hidden file of that name); "
                                         "name the chart NAME.png or NAME.html"), out
    csv = tmp_path / "m.csv"
    csv.write_bytes((ROOT / "tests" / "data" / "bench" / "minimal_sample.csv").read_bytes())
    plot = tmp_path / ".png"
    code, out = run("validate", csv, "--folds", "0", "--out-plot", plot)
    assert code == 2 and out.strip().endswith(f"error: --out-plot {plot}: no name before .png (a hidden file of that "
                                              "name); name the plot NAME.png"), out
    assert not chart.exists() and not plot.exists()


@pytest.mark.parametrize("address", ["https://huggingface.co/meta-llama/Llama-3.1-8B",
                                     "huggingface.co/meta-llama/Llama-3.1-8B/tree/main",
                                     "https://huggingface.co/meta-llama/Llama-3.1-8B/blob/main/config.json"])
def test_a_hugging_face_address_as_the_model_is_told_its_id(tmp_path, address):
    """`model: https://huggingface.co/meta-llama/Llama-3.1-8B` (an address pasted from the browser)
    read `unknown model …; known: deepseek-r1, …` (or, ending config.json, `file not found`), though
    the id it holds is in the catalog. Now the message gives the id to write."""
    code, out = run("solve", write(tmp_path, {**SMALL, "model": address}))
    assert code == 2 and out.strip() == (
        f"error: {tmp_path / 'p.yaml'}: model: unknown model {address!r}: the address of a Hugging Face page; give the "
        "model's id, meta-llama/Llama-3.1-8B (plan reads ids and config.json files, never the network)"), out
    code, out = run("solve", write(tmp_path, {**SMALL, "model": "meta-llama/Llama-3.1-8B"}))
    assert code == 0, out


def test_a_semicolon_separated_csv_is_named_so(tmp_path):
    """A trace or minimal CSV saved by a spreadsheet in a decimal-comma locale separates its columns
    by ';': the trace read `no time column; the header has timestamp;input_tokens;output_tokens,
    expected one of timestamp, …` (timestamp is there) and the measurements `not a benchmark file
    this planner reads (… or a CSV)`. Now both name the separator."""
    (tmp_path / "t.csv").write_text("timestamp;input_tokens;output_tokens\n0;800;100\n600;800;100\n")
    code, out = run("solve", write(tmp_path, {**SMALL, "workload": {"trace": {"file": "t.csv"}}}))
    assert code == 2 and out.strip().endswith(
        "t.csv: the header is one column, 'timestamp;input_tokens;output_tokens': its columns are separated by ';' "
        "(a spreadsheet's CSV where the decimal mark is a comma?); plan reads columns separated by commas: save it "
        "with ',' between columns"), out
    m = tmp_path / "m.csv"
    m.write_text((ROOT / "tests" / "data" / "bench" / "minimal_sample.csv").read_text().replace(",", ";"))
    code, out = run("validate", m)
    assert code == 2 and out.strip() == (
        f"error: {m}: the header is one column: its columns are separated by ';' (a spreadsheet's CSV where the "
        "decimal mark is a comma?); plan reads columns separated by commas: save it with ',' between columns"), out


@pytest.mark.parametrize("value", ["false", "None", "disabled"])
def test_the_cache_turned_off_by_the_usual_words(tmp_path, monkeypatch, value):
    """`PLANNER_CACHE_DIR=false` (as a switch is turned off) made a directory `false/` wherever plan
    ran and filled it with the cache; only off, 0, no and an empty value turned it off. Now false,
    none and disabled do too."""
    from planner.codecache import cache_dir
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLANNER_CACHE_DIR", value)
    assert cache_dir() is None
    code, out = run("catalog", "gpus")
    assert code == 0 and not (tmp_path / value).exists(), out


@pytest.mark.parametrize("name", [".yaml", ".yml", ".YAML"])
def test_plan_init_out_with_no_name_before_yaml_is_refused(tmp_path, name):
    """`plan init --out .yaml` wrote a hidden file whose problem was named '.yaml' (the sixth round
    saw it; `plan calibrate --out .yaml` was already refused): exit 2, nothing written. `.YAML` too
    (plan solve reads p.YAML; it was written until the forty-fifth session)."""
    out = tmp_path / name
    code, msg = run("init", "--out", out)
    assert code == 2 and msg.strip() == (f"error: --out {out}: no name before {name} (a hidden file of that name); "
                                         f"the problem's file is NAME{name}, and NAME becomes the problem's name"), msg
    assert not out.exists()
