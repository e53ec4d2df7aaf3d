"""Mixed precision per part in the model catalog (issue 21, item 3): a catalog entry's `part_dtypes`
says which dense parts (attention, dense MLP, shared experts) its checkpoint stores apart from
`weight_dtype`; the resolved model, every deployment of it and `plan catalog models` carry them."""

import json

import pytest
import yaml
from click.testing import CliRunner

import planner.catalog.schemas as schemas
from cli import main
from planner.catalog.schemas import CATALOG_DIR, PARTS, PartPrecisions, load_models
from planner.errors import BadInput

SHIPPED = yaml.safe_load((CATALOG_DIR / "models.yaml").read_text(encoding="utf-8"))["models"]
R1 = next(m for m in SHIPPED if m["id"] == "deepseek-r1")   # FP8 checkpoint, 61 layers of MLA
ATTN_PER_CARD_TP8 = 61 * 187_105_280 / 8   # DeepSeek-R1's attention params per card on TP8


def _catalog(tmp_path, *entries, name="models.yaml"):
    """A catalog file of DeepSeek-R1 copies, each `(id, part_dtypes or None)`."""
    models = [{**R1, "id": i, "aliases": [], **({"part_dtypes": parts} if parts is not None else {})}
              for i, parts in entries]
    p = tmp_path / name
    p.write_text(yaml.safe_dump({"models": models}), encoding="utf-8")
    return p


def _use(monkeypatch, path):
    """The shipped catalog plus the models of `path`, wherever the planner looks models up."""
    both = {**load_models(), **load_models(str(path))}
    monkeypatch.setattr(schemas, "load_models", lambda path=None: both)


def test_entry_fields_are_the_parts():
    assert tuple(PartPrecisions.model_fields) == PARTS


def test_part_dtypes_reach_the_model(tmp_path):
    """BF16 attention beside FP8 weights is kept; a part at weight_dtype (dense_mlp: fp8) is
    dropped, so an entry that names only such parts is the uniform model."""
    p = _catalog(tmp_path, ("r1-bf16-attn", {"attention": "bf16", "dense_mlp": "fp8"}),
                 ("r1-same", {"attention": "fp8", "shared_experts": "fp8"}), ("r1-plain", None))
    m = load_models(str(p))
    assert m["r1-bf16-attn"].weight_dtype == "fp8"
    assert m["r1-bf16-attn"].part_dtypes == (("attention", "bf16"),)
    assert m["r1-same"].part_dtypes == () and m["r1-plain"].part_dtypes == ()
    assert m["r1-same"].model_dump(exclude={"id"}) == m["r1-plain"].model_dump(exclude={"id"})


@pytest.mark.parametrize("parts, field, reason", [
    ({"attn": "bf16"}, "models[0].part_dtypes.attn", "unknown key 'attn'"),
    ({"attention": "fp3"}, "models[0].part_dtypes.attention", "got 'fp3'"),
    ("bf16", "models[0].part_dtypes", "a mapping of its fields"),
])
def test_bad_part_dtypes_name_file_and_field(tmp_path, parts, field, reason):
    p = _catalog(tmp_path, ("r1-bad", parts))
    with pytest.raises(BadInput) as e:
        load_models(str(p))
    assert str(e.value).startswith(f"{p}: {field}: ") and reason in str(e.value)


def test_bad_catalog_is_exit_2_without_traceback(tmp_path, monkeypatch):
    p = _catalog(tmp_path, ("r1-bad", {"attn": "bf16"}))
    real = load_models
    monkeypatch.setattr(schemas, "load_models", lambda path=None: real(str(p)))
    r = CliRunner().invoke(main, ["catalog", "models"])
    assert r.exit_code == 2 and f"{p}: models[0].part_dtypes.attn: unknown key" in r.output
    assert "Traceback" not in r.output


def test_deployment_of_the_catalog_model_carries_the_part(tmp_path, monkeypatch):
    """`plan eval` of the entry with BF16 attention on 8 B200s (TP8): the attention's
    61 × 187,105,280 / 8 = 1,426,677,760 params per card take 2 bytes instead of 1, so the weights
    per card are 1,426,677,760 bytes more than the same entry without part_dtypes. Given
    `--weights fp8`, the part follows the weights (the problem files' rule): no difference."""
    _use(monkeypatch, _catalog(tmp_path, ("r1-bf16-attn", {"attention": "bf16"}), ("r1-plain", None)))

    def weights(model, *more):
        r = CliRunner().invoke(main, ["eval", "--model", model, "--gpu", "b200", "--batch", "64", "--json", *more])
        assert r.exit_code == 0, r.output
        return json.loads(r.output)

    mixed, plain = weights("r1-bf16-attn"), weights("r1-plain")
    assert mixed["part_dtypes"] == {"attention": "bf16"} and "part_dtypes" not in plain
    assert ATTN_PER_CARD_TP8 == 1_426_677_760
    extra = mixed["memory_weights_per_card_bytes"] - plain["memory_weights_per_card_bytes"]
    assert extra == pytest.approx(ATTN_PER_CARD_TP8 * (2.0 - 1.0), rel=1e-9)
    assert plain == {**weights("deepseek-r1"), "model": "r1-plain"}   # the shipped entry's numbers
    asked = weights("r1-bf16-attn", "--weights", "fp8")
    assert "part_dtypes" not in asked
    assert asked["memory_weights_per_card_bytes"] == plain["memory_weights_per_card_bytes"]


def test_catalog_models_shows_the_parts(tmp_path, monkeypatch):
    _use(monkeypatch, _catalog(tmp_path, ("r1-bf16-attn", {"attention": "bf16", "shared_experts": "fp4"})))
    rows = {d["id"]: d for d in json.loads(CliRunner().invoke(main, ["catalog", "models", "--json"]).output)}
    assert rows["r1-bf16-attn"]["part_dtypes"] == {"attention": "bf16", "shared_experts": "fp4"}
    assert rows["deepseek-r1"]["part_dtypes"] == {}
    text = CliRunner().invoke(main, ["catalog", "models"]).output
    line = next(x for x in text.splitlines() if x.startswith("r1-bf16-attn "))
    assert "fp8, bf16 attention, fp4 shared experts " in line


def test_shipped_catalog_is_uniform_in_its_dense_parts():
    """No shipped checkpoint stores a dense part apart (docs/reference.md, "Catalogs"): `{}` for
    every model, and the weights column as before (gpt-oss: BF16 with FP4 experts)."""
    rows = json.loads(CliRunner().invoke(main, ["catalog", "models", "--json"]).output)
    assert rows and all(d["part_dtypes"] == {} for d in rows)
    text = CliRunner().invoke(main, ["catalog", "models"]).output
    line = next(x for x in text.splitlines() if x.startswith("gpt-oss-120b "))
    assert " bf16, fp4 experts " in line
