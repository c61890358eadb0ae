"""What the command line imports: lint stays light, nothing imports torch.

Each run is a fresh interpreter, so modules imported by other tests do not count.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(str(p) for p in (ROOT / "examples").glob("*.arch"))
HEAVY = ("torch", "black", "jinja2", "lxml", "numpy")

PROBE = f"""
import json, sys
from archc.cli import main
code = main(sys.argv[1:])
loaded = sorted({{name.split(".")[0] for name in sys.modules}} & set({HEAVY!r}))
print(json.dumps({{"code": code, "loaded": loaded}}))
"""


def imported(*args: str) -> tuple[int, set[str]]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True, cwd=ROOT
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    return report["code"], set(report["loaded"])


def test_lint_imports_no_emitter_and_no_torch() -> None:
    code, loaded = imported("lint", *EXAMPLES)
    assert code == 0
    assert loaded.isdisjoint({"torch", "black", "jinja2", "numpy"}), loaded


@pytest.mark.parametrize(
    "flags", [[], ["--memory-format", "channels_last", "--fold-batchnorm"]], ids=["default", "options"]
)
def test_compile_does_not_import_torch(tmp_path: Path, flags: list[str]) -> None:
    code, loaded = imported("compile", *EXAMPLES, "-o", str(tmp_path), *flags)
    assert code == 0
    assert "jinja2" in loaded  # the emitter did run
    assert loaded.isdisjoint({"torch", "numpy"}), loaded
    assert len(list(tmp_path.glob("*.py"))) == len(EXAMPLES)


def test_summary_does_not_import_torch() -> None:
    code, loaded = imported("summary", EXAMPLES[0])
    assert code == 0
    assert "torch" not in loaded
