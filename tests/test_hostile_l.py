"""Hostile input, thirteenth round (2026-12-07): small input-handling defects — minimal-CSV messages
that count records, not the file's lines; a spreadsheet's trailing comma; output options without
their suffix; a measurement YAML's unknown GPU or model."""

from __future__ import annotations

import pytest

from tests.test_hostile_outputs import run, write

HEAD = "model,gpu,engine,cards,tp,pp,dp,ep,mode,concurrency,isl,osl,ttft_ms,tpot_ms\n"
ROW = "llama-3.1-70b,{gpu},{engine},4,4,1,1,1,agg,32,2048,512,180.5,21.3\n"


def row(gpu: str = "h100", engine: str = "vllm") -> str:
    return ROW.format(gpu=gpu, engine=engine)


# ------------------------------------------------------------------------ minimal CSV: the file's line
def test_a_minimal_csv_error_names_the_files_line_after_an_empty_line_and_a_multi_line_cell(tmp_path):
    """After an empty line, a row of commas and a quoted cell over two lines, the misspelt GPU on the
    file's line 7 was named 'row 5' (records counted: the empty line and the cell's second line not): now 'line 7'."""
    text = HEAD + "\n" + row() + '"llama\nx",h100,vllm,4,4,1,1,1,agg,32,2048,512,180.5,21.3\n' + ",,,\n" + row("h10O")
    assert text.splitlines()[6].startswith("llama-3.1-70b,h10O,")   # the file's line 7
    f = write(tmp_path, text, "m.csv")
    code, out = run("validate", f, "--folds", "0")
    assert code == 2, out
    assert f"error: {f}: line 7: gpu: unknown GPU 'h10O'; known: " in out and "row " not in out, out


def test_a_minimal_csv_cell_error_names_the_line_its_record_ends_on(tmp_path):
    """A record over two lines (a quoted cell holding a newline) is named by the line it ends on."""
    f = write(tmp_path, HEAD + "\n" + row(engine='"vl\nlm"'), "m.csv")
    code, out = run("validate", f, "--folds", "0")
    assert code == 2 and f"error: {f}: line 4: engine: a name is one line of printable text" in out, out


def test_a_minimal_csvs_unknown_engine_note_names_the_files_line(tmp_path):
    """The note of an engine plan does not know said 'row 3' of its first row, written on line 5
    after two empty lines: now 'line 5'."""
    f = write(tmp_path, HEAD + row() + "\n\n" + row(engine="vlllm") + row(engine="vlllm"), "m.csv")
    code, out = run("validate", f, "--folds", "0")
    assert code == 0, out
    notes = [x for x in out.splitlines() if x.startswith("note: ")]
    assert len(notes) == 1 and notes[0].startswith(f"note: {f}: line 5: engine: 'vlllm' is none of the engines "), out


# ------------------------------------------------------------------------ minimal CSV: a trailing comma
def test_a_minimal_csv_rows_trailing_empty_cells_are_read(tmp_path):
    """A row ending in a comma (a spreadsheet's trailing empty cell), or two, was dropped as a
    'ragged row (a cell too few or too many)' and the file fitted without it at exit 0: now read."""
    text = HEAD + row().replace("\n", ",\n") + row().replace(",32,", ",16,").replace("\n", ",, \n")
    f = write(tmp_path, text, "m.csv")
    code, out = run("validate", f, "--folds", "0")
    assert code == 0 and "read 2 rows, kept 2 points" in out and "ragged" not in out, out


def test_a_minimal_csv_rows_extra_cell_with_text_is_still_ragged(tmp_path):
    """An extra cell that holds something is not a trailing comma: the row stays dropped as ragged."""
    text = HEAD + row() + row().replace(",32,", ",16,").replace("\n", ",,x\n")
    f = write(tmp_path, text, "m.csv")
    code, out = run("validate", f, "--folds", "0")
    assert code == 0 and "read 2 rows, kept 1 point, dropped 1" in out, out
    assert "dropped     1: ragged row (a cell too few or too many)" in out, out


# ------------------------------------------------------------------------ whatif --plot .png
SMALL = {"name": "small", "model": "llama-3.1-8b",
         "workload": {"qps": 5, "input_tokens": 500, "output_tokens": 200},
         "slo": {"ttft": "2s", "tpot": "50ms"}, "gpus": ["h100"]}


@pytest.mark.parametrize("name", [".png", ".PNG"])
def test_whatif_plot_of_a_suffix_alone_is_refused(tmp_path, name):
    """`plan whatif … --plot .png` passed the suffix check and wrote a hidden file named `.png`
    ("wrote .png", exit 0), where `--csv .csv` was refused: now refused alike, nothing written."""
    s = write(tmp_path, {"name": "x", "slo": {"tpot": "40ms"}}, "s.yaml")
    f = tmp_path / name
    code, out = run("whatif", write(tmp_path, SMALL), s, "--plot", f)
    assert code == 2 and out.strip() == (f"error: --plot {f}: no name before {name} (a hidden file of that name); "
                                         f"name the chart NAME.png"), out
    assert not f.exists()


# ------------------------------------------------------------------------ measurement YAML: unknown ids
POINT = {"id": "p1", "model": "llama-3.1-70b", "weight_dtype": "fp8", "gpu": "h100", "cards": 4,
         "parallelism": {"tp": 4}, "role": "agg", "engine": "vllm", "isl": 1000, "osl": 500, "concurrency": 16,
         "measured": {"tpot_s": 0.03}, "source": "a test's point", "kind": "measured"}


def test_a_measurement_yamls_unknown_gpu_lists_the_known_and_offers_the_closest(tmp_path):
    """`gpu: mi300` (for mi300x) said only "unknown GPU 'mi300'": now the known GPUs and the closest,
    as a problem's gpus: and --deployment say it."""
    from planner.catalog.schemas import load_gpus
    f = write(tmp_path, {"points": [{**POINT, "gpu": "mi300"}]}, "m.yaml")
    code, out = run("validate", f, "--folds", "0")
    assert code == 2 and out.strip() == (
        f"error: {f}: points[0] (p1).gpu: unknown GPU 'mi300'; known: {', '.join(sorted(load_gpus()))}. "
        f"Did you mean 'mi300x' or 'b300' or 'gb300'?"), out


def test_a_measurement_yamls_unknown_model_lists_the_known_and_offers_the_closest(tmp_path):
    """`model: deepseek-r2` said only "unknown model 'deepseek-r2'": now the catalog's ids and the closest."""
    f = write(tmp_path, {"points": [{**POINT, "model": "deepseek-r2"}]}, "m.yaml")
    code, out = run("validate", f, "--folds", "0")
    assert code == 2 and out.strip().startswith(
        f"error: {f}: points[0] (p1).model: unknown model 'deepseek-r2'; known: deepseek-r1, deepseek-v3, "), out
    assert ", llama-3.1-70b, llama-3.1-8b, " in out and out.strip().endswith(
        "qwen3.5-397b-a17b. Did you mean 'deepseek-r1' or 'deepseek-v3.2' or 'deepseek-v3'?"), out


def test_a_measurement_yamls_id_far_from_any_is_listed_without_a_guess(tmp_path):
    """Nothing close: the known ids alone, no 'Did you mean'."""
    f = write(tmp_path, {"points": [{**POINT, "gpu": "zzzzzzzz"}]}, "m.yaml")
    code, out = run("validate", f, "--folds", "0")
    assert code == 2 and out.strip().endswith("mi355x, rtx4090.") and "Did you mean" not in out, out
