"""Warnings kept on purpose: `# archc: allow(code)` comments (compiler/core/allow.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from archc.core.source import Source
from archc.driver import run

ROOT = Path(__file__).resolve().parent.parent
HEAD = "arch m(classes = 2, length = 15, alphabet = 4) {\n"
POOL = "  conv = conv1d(8, 3, padding = 1) | maxpool1d(2)"  # 15 positions: one dropped


def lint(text: str) -> list[tuple[str, str, int]]:
    source = Source("m.arch", text)
    return [(d.code, d.severity.value, d.location()[0]) for d in run(source).diagnostics]


def test_the_warning_without_an_allowance() -> None:
    assert lint(HEAD + POOL + "\n  flatten | fc = linear(2)\n}\n") == [("pool-drops", "warning", 2)]


@pytest.mark.parametrize(
    "text",
    [
        HEAD + POOL + "  # archc: allow(pool-drops)\n  flatten | fc = linear(2)\n}\n",
        HEAD + "  # archc: allow(pool-drops)\n" + POOL + "\n  flatten | fc = linear(2)\n}\n",
        HEAD + "  # the paper's pool drops the last position\n  # archc: allow(pool-drops)\n\n"
        "  # (really)\n" + POOL + "\n  flatten | fc = linear(2)\n}\n",
        "# archc: allow-file(pool-drops)\n" + HEAD + POOL + "\n  flatten | fc = linear(2)\n}\n",
        HEAD + POOL + "  #archc:allow( pool-drops )\n  flatten | fc = linear(2)\n}\n",
    ],
    ids=["same-line", "line-before", "line-before-past-comments", "file", "spacing"],
)
def test_allowed_warnings_are_kept_quiet(text: str) -> None:
    assert lint(text) == []  # the warning is quiet and every allowance was used


def test_an_allowance_covers_only_its_line() -> None:
    text = HEAD + POOL + "\n  # archc: allow(pool-drops)\n  relu\n  flatten | fc = linear(2)\n}\n"
    codes = [(c, line) for c, _, line in lint(text)]
    assert ("pool-drops", 2) in codes  # the warning is on line 2, the allowance covers line 4
    assert ("unused-allow", 3) in codes


@pytest.mark.parametrize(
    ("comment", "message"),
    [
        ("allow(axis-order)", "`allow(axis-order)` matches no warning on line 2"),
        ("allow(pool-dorps)", "`pool-dorps` is not a diagnostic code"),
        ("allow()", "names no code"),
    ],
)
def test_unused_and_unknown_allowances_are_reported(comment: str, message: str) -> None:
    text = HEAD + POOL + f"  # archc: {comment}\n  flatten | fc = linear(2)\n}}\n"
    source = Source("m.arch", text)
    diags = run(source).diagnostics
    unused = [d for d in diags if d.code == "unused-allow"]
    assert len(unused) == 1 and message in unused[0].message
    assert unused[0].location()[0] == 2
    if "dorps" in comment:
        assert unused[0].help == "did you mean `pool-drops`?"


def test_errors_cannot_be_allowed() -> None:
    text = HEAD + "  fc = linear(3 -> 2)  # archc: allow(shape-mismatch)\n}\n"
    diags = run(Source("m.arch", text)).diagnostics
    codes = {d.code: d for d in diags}
    assert codes["shape-mismatch"].is_error
    assert "errors cannot be allowed" in codes["unused-allow"].message


def test_strict_passes_when_every_warning_is_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "m.arch"
    path.write_text(HEAD + POOL + "  # archc: allow(pool-drops)\n  flatten | fc = linear(2)\n}\n")
    archc = [sys.executable, "-m", "archc"]
    quiet = subprocess.run([*archc, "lint", "--strict", str(path)], capture_output=True, text=True)
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert "no problems" in quiet.stdout
    path.write_text(HEAD + POOL + "\n  flatten | fc = linear(2)\n}\n")
    loud = subprocess.run([*archc, "lint", "--strict", str(path)], capture_output=True, text=True)
    assert loud.returncode == 1 and "pool-drops" in loud.stdout


def test_allowances_work_in_lifted_python(tmp_path: Path) -> None:
    """The comment is read from the file the diagnostics point into: a .py works too."""
    model = tmp_path / "model.py"
    model.write_text(
        "import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.conv = nn.Conv1d(4, 8, 3, padding=1)\n"
        "        self.pool = nn.MaxPool1d(2)\n"
        "        self.fc = nn.Linear(56, 2)  # archc: allow(length-pinned)\n\n"
        "    def forward(self, x):\n        x = self.pool(self.conv(x))  # archc: allow(pool-drops)\n"
        "        return self.fc(torch.flatten(x, 1))\n"
    )
    archc = [sys.executable, "-m", "archc"]
    proc = subprocess.run(
        [*archc, "lint", "--strict", str(model), "--set", "length=15"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "pool-drops" not in proc.stdout, proc.stdout
