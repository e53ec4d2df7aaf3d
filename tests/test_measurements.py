"""Loader: interpretation of the silicon CSV format and the counted reasons for dropping rows."""

import csv
from pathlib import Path

import pytest

from planner.catalog.schemas import load_models
from planner.errors import BadInput
from planner.fidelity.measurements import default_measurement_files, load_points

HEADER = ["id", "silicon_data_source", "backend", "backend_version", "model_path", "system",
          "precision", "mode", "isl", "osl", "gemm_quant_mode", "moe_quant_mode", "batch_size",
          "tp_size", "pp_size", "attention_dp_size", "moe_tp_size", "moe_ep_size",
          "prefill_batch_size", "prefill_num_workers", "prefill_tp_size", "prefill_pp_size",
          "prefill_attention_dp_size", "prefill_moe_tp_size", "prefill_moe_ep_size",
          "decode_batch_size", "decode_num_workers", "decode_tp_size", "decode_pp_size",
          "decode_attention_dp_size", "decode_moe_tp_size", "decode_moe_ep_size",
          "silicon_ttft_ms", "silicon_tpot_ms"]


def _row(id, model="meta-llama/Llama-3.1-70B", system="h100_sxm", tp="4", dp="1", batch="8",
         conc=8, quant="fp8", ttft="100", tpot="12", mode="agg"):
    r = dict.fromkeys(HEADER, "")
    r.update(id=id, silicon_data_source=f"x; silicon_concurrency={conc}", backend="vllm",
             backend_version="0.1", model_path=model, system=system, precision=quant, mode=mode,
             isl="1024", osl="1024", gemm_quant_mode=quant, moe_quant_mode=quant,
             batch_size=batch, tp_size=tp, pp_size="1", attention_dp_size=dp,
             silicon_ttft_ms=ttft, silicon_tpot_ms=tpot)
    return r


def _write(tmp_path: Path, rows) -> Path:
    p = tmp_path / "m.csv"
    with open(p, "w", newline="") as f:
        w = csv.DictWriter(f, HEADER)
        w.writeheader()
        w.writerows(rows)
    return p


def test_drop_counts_on_a_hand_made_csv(tmp_path):
    rows = [
        _row("ok"),                                             # kept
        _row("ok"),                                             # exact duplicate
        _row("relabel", tp="2"),                                # same TTFT/TPOT, other label
        _row("kimi3", model="moonshotai/Kimi-K3"),              # unknown model
        _row("l4", system="l4", ttft="101"),                     # GPU not in catalog
        _row("int4", quant="int4_wo", ttft="102"),              # precision not modelled
        _row("wide", tp="16", ttft="103"),                      # TP beyond the 8-card node
        _row("disagg", mode="disagg", batch="", ttft="104"),    # decode batch unknown
        _row("c4", conc=4, batch="4", ttft="50", tpot="10"),    # kept; TTFT observed at every concurrency
    ]
    points, report = load_points([_write(tmp_path, rows)])
    assert report.read == 9 and report.kept == 2
    assert report.dropped == {
        "exact duplicate": 1,
        "same TTFT and TPOT as another row (relabelled, rounded or re-printed copy)": 1,
        "model not in catalog (moonshotai/Kimi-K3)": 1,
        "GPU system not in catalog (l4)": 1,
        "weight precision not modelled (int4_wo)": 1,
        "worker exceeds the system's scale-up domain": 1,
        "disagg without decode batch or worker count (batch per worker unknown)": 1,
    }
    ok, c4 = points
    # decode tokens/s per GPU = b / (TPOT · cards) = 8 / (0.012 · 4)
    assert ok.measured["decode_tok_s_per_gpu"] == pytest.approx(8 / (0.012 * 4))
    # TTFT is compared at every concurrency (the closed-loop model predicts the queueing)
    assert c4.measured["ttft_s"] == pytest.approx(0.050)
    assert ok.measured["ttft_s"] == pytest.approx(0.100)
    assert "prefill_tok_s_per_gpu" not in c4.measured
    assert ok.model == "llama-3.1-70b" and ok.gpu == "h100" and ok.weight_dtype == "fp8"


def test_a_result_repeated_with_rounded_latencies_is_one_measurement(tmp_path):
    """The file repeats runs from several exports, some rounded to two decimals (6.33 for
    6.33271 ms) or re-printed (6.332710000001): one measurement, counted once. Results 0.02 ms
    apart on TPOT, or on TTFT alone, are distinct runs and kept."""
    rows = [
        _row("a", ttft="338.336", tpot="6.33271"),
        _row("a-rounded", tp="2", ttft="338.34", tpot="6.33"),           # the same run, rounded
        _row("a-reprinted", ttft="338.336000001", tpot="6.332710000001"),  # the same run, re-printed
        _row("b", ttft="338.336", tpot="6.35271"),                        # 0.02 ms slower: another run
        _row("c", ttft="338.356", tpot="6.33271"),                        # TTFT 0.02 ms apart: another run
        _row("d", ttft="", tpot="6.33271", conc=16, batch="16"),          # no TTFT: matches nothing
    ]
    points, report = load_points([_write(tmp_path, rows)])
    assert [p.id for p in points] == ["a", "b", "c", "d"]
    assert report.dropped == {"same TTFT and TPOT as another row (relabelled, rounded or re-printed copy)": 2}


def test_attention_dp_multiplies_the_batch(tmp_path):
    """batch_size is per attention-DP rank: the instance holds batch_size·dp sequences."""
    rows = [_row("dp", model="deepseek-ai/DeepSeek-R1", system="b200_sxm", tp="1", dp="8",
                 batch="16", conc=128)]
    (p,), _ = load_points([_write(tmp_path, rows)])
    assert p.par.cards == 8 and p.batch == 128


def test_an_agg_row_whose_concurrency_is_not_one_instances_is_dropped(tmp_path):
    """Concurrency must be batch_size × attention_dp_size for an agg row: 224 requests recorded with
    batch 56 on TP4 without attention DP (a shipped row of that shape) cannot be read as one
    instance; 64 requests at batch 8 on 8 attention-DP ranks can."""
    rows = [_row("spread", model="deepseek-ai/DeepSeek-R1", system="b200_sxm", tp="4", batch="56", conc=224),
            _row("dp", model="deepseek-ai/DeepSeek-R1", system="b200_sxm", tp="1", dp="8", batch="8", conc=64,
                 ttft="90")]
    (p,), report = load_points([_write(tmp_path, rows)])
    assert p.id == "dp" and p.batch == 64
    assert report.dropped == {
        "agg concurrency is not batch size x attention-DP size (requests per instance unknown)": 1}


def test_shipped_files_load_and_report():
    points, report = load_points(default_measurement_files())
    assert report.kept == len(points) > 1000
    assert report.read == report.kept + sum(report.dropped.values())
    no_point = "public point without a full operating point (isl, osl, batch or concurrency)"
    assert any(p.kind == "vendor_claim" for p in points) or no_point in report.dropped


def test_unknown_file_type_is_bad_input(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("nothing")
    with pytest.raises(BadInput, match="x.txt"):
        load_points([p])


def test_a_prefill_first_engine_keeps_the_wave_out_of_tpot(tmp_path):
    """SGLang prefills a wave of simultaneous prompts before decoding any of it: of the prefill
    work, the share 1 − 1/k lands in the decode steps TPOT measures (k requests per client); an
    engine that mixes chunks into decode steps carries all of it. With k = 1 (every round a wave)
    an SGLang agg point's TPOT is the pure decode step."""
    from dataclasses import replace

    from planner.catalog.calibration import load_calibration
    from planner.fidelity.measurements import benchmark, deployment, predict_tpot
    from planner.physics.benchmark import prefill_share_in_tpot
    from planner.physics.perf import decode_step
    (p,), _ = load_points([_write(tmp_path, [_row("v", batch="32", conc=32)])])
    s = replace(p, engine="sglang")
    # of 32 sequences, the other 31's prompts land in one request's TPOT
    assert prefill_share_in_tpot(benchmark(s), 4.0, 32.0) == pytest.approx(31 / 32 * 0.75)
    assert prefill_share_in_tpot(benchmark(p), 4.0, 32.0) == pytest.approx(31 / 32)
    assert prefill_share_in_tpot(benchmark(p), 4.0, 1.0) == 0.0
    calib = load_calibration("default").with_overrides({"benchmark_requests_per_client": 1.0})
    dep = deployment(s, calib)
    assert predict_tpot(s, dep) == pytest.approx(decode_step(dep, s.batch, s.context_tokens).time_s)
    assert predict_tpot(p, deployment(p, calib)) > 1.05 * predict_tpot(s, dep)


def test_cells_that_are_not_finite_numbers_drop_the_row_with_the_column(tmp_path):
    """A TTFT of 'abc' was an internal error and a NaN TTFT a point measuring NaN; both are now
    dropped, counted under the column."""
    rows = [_row("a", ttft="abc"), _row("b", tpot="nan", conc=9), _row("c", batch="-4", conc=7), _row("ok")]
    pts, rep = load_points([_write(tmp_path, rows)])
    assert [p.id for p in pts] == ["ok"]
    assert rep.dropped == {"silicon_ttft_ms is not a number": 1,
                           "silicon_tpot_ms is not a finite positive number": 1,
                           "batch_size is not a finite non-negative number": 1}


def test_an_mla_layout_that_cannot_hold_its_batch_is_read_as_attention_dp(tmp_path):
    """DeepSeek-R1 (MLA: one latent KV head of 512 + 64 values, 61 layers) recorded as TP8 on
    8×B200 at 8,192 + 1,024 tokens: attention TP keeps every sequence's latent cache on every card,
    8,704 · 61 · 576 B = 305.8 MB per sequence in FP8, so the card holds a few hundred of them; at
    512 sequences the recorded layout cannot have run and is read as attention-DP 8 (the experts
    keep their recorded split), at 128 it can and stays as recorded. GQA models are never
    re-read."""
    from planner.catalog.calibration import load_calibration
    from planner.catalog.schemas import load_gpus, load_models
    from planner.fidelity.measurements import ATTENTION_DP_REREAD, deployment
    from planner.physics.benchmark import engine_kv_slots
    from planner.physics.deployment import kv_bytes_per_sequence

    def r1(id, batch):
        r = _row(id, model="deepseek-ai/DeepSeek-R1", system="b200_sxm", tp="8", batch=str(batch), conc=batch,
                 ttft=str(1000 + batch))
        r.update(isl="8192", osl="1024", moe_tp_size="1", moe_ep_size="8")
        return r
    rows = [r1("wide", 512), r1("fits", 128),
            _row("gqa", system="h100_sxm", tp="8", batch="4096", conc=4096, ttft="900")]
    (wide, fits, gqa), report = load_points([_write(tmp_path, rows)])
    assert (wide.par.tp, wide.par.dp, wide.par.moe_tp, wide.par.cards) == (1, 8, 1, 8)
    assert wide.recorded_par is not None and wide.recorded_par.tp == 8 and wide.recorded_par.dp == 1
    assert wide.batch == 512 and wide.group == fits.group   # the recorded configuration
    assert (fits.par.tp, fits.par.dp, fits.recorded_par) == (8, 1, None)
    assert (gqa.par.tp, gqa.par.dp, gqa.recorded_par) == (8, 1, None)
    assert report.reread == {ATTENTION_DP_REREAD: 1}
    assert any(line.strip().startswith("re-read") for line in report.lines())
    # the rule's arithmetic by hand: the recorded layout's KV per sequence and its slots
    dep = deployment(fits, load_calibration("default"), load_models(), load_gpus())
    assert kv_bytes_per_sequence(dep, 8704) == pytest.approx(8704 * 61 * 576)
    assert 128 <= engine_kv_slots(dep, 8704) < 512


def test_repeat_spread_and_smoothness_of_hand_made_points():
    """Two measurements of one configuration at c = 4 (0.20 and 0.25 s): one repeat, 25 % apart;
    the c = 1, 4, 16 curve with the first of them lies on a power law: no scatter."""
    from planner.fidelity.noise import concurrency_smoothness, repeat_spread
    from planner.fidelity.points import Point
    from planner.physics.perf import Parallelism

    def pt(i, c, v):
        return Point(f"p{i}", "", "", "measured", "m", "g", "e", "", "bf16", "bf16", "agg", Parallelism(1, 1, 1),
                     1024.0, 128.0, c, c, measured={"ttft_s": v})
    pts = [pt(0, 1, 0.1), pt(1, 4, 0.2), pt(2, 4, 0.25), pt(3, 16, 0.4)]
    assert repeat_spread(pts, "ttft_s").tolist() == pytest.approx([0.25])
    assert concurrency_smoothness(pts, "ttft_s").tolist() == pytest.approx([0.0])
    assert len(repeat_spread(pts, "decode_tok_s_per_gpu")) == 0


def test_the_shipped_measurements_count_no_run_twice():
    """No two kept points of one architecture, system and lengths have TTFT and TPOT within
    0.01 ms: the exports the file merges repeat runs (rounded or re-printed), each counted once.
    Before 2026-12-03, 98 such copies were kept (76 of SGLang, mostly Qwen3.5-397B on B200)."""
    points, report = load_points(default_measurement_files())
    by_key: dict[tuple, list[tuple[float, float]]] = {}
    arch = {k: m.arch for k, m in load_models().items()}
    for p in points:
        if p.kind != "measured" or p.ttft_s is None or p.tpot_s is None:
            continue
        key = (arch[p.model], p.gpu, p.isl, p.osl)
        t, q = p.ttft_s * 1e3, p.tpot_s * 1e3
        assert not any(abs(t - t2) <= 0.01 and abs(q - q2) <= 0.01 for t2, q2 in by_key.get(key, [])), p.id
        by_key.setdefault(key, []).append((t, q))
    assert report.dropped["same TTFT and TPOT as another row (relabelled, rounded or re-printed copy)"] == 206
    assert report.kept == 2138


def test_held_out_public_points_load_and_stay_out_of_the_default_fit():
    """catalogs/measurements/held_out/ holds published points no fit may see (an independent check of
    the shipped profiles, docs/model.md "Held-out public points"): `plan calibrate` and `plan validate`
    without arguments read catalogs/measurements/*.yaml and *.csv only. Every held-out point has a
    full operating point and loads."""
    from planner.catalog.schemas import CATALOG_DIR
    held = CATALOG_DIR / "measurements" / "held_out" / "public_held_out.yaml"
    assert held not in default_measurement_files()
    assert not any("held_out" in str(f) for f in default_measurement_files())
    points, report = load_points([held])
    assert report.read == report.kept == len(points) == 15 and not report.dropped
    assert all(p.kind == "measured" and p.source.count("http") >= 1 for p in points)
