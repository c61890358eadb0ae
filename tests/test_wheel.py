"""A built wheel, installed into a fresh virtual environment, finds its grammar and templates."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def test_wheel_in_fresh_venv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("archc-*.whl")

    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "archc/grammar/archc.lark" in names
    assert "archc/templates/torch_module.py.jinja" in names
    assert not any(name.startswith(("tests/", "examples/")) for name in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert pip.returncode == 0, pip.stderr

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(ROOT / "examples" / "deepsea.arch", elsewhere / "deepsea.arch")
    run = subprocess.run(
        [str(venv / "bin" / "archc"), "compile", "deepsea.arch", "-o", "out"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert (elsewhere / "out" / "deepsea.py").read_text() == (
        ROOT / "generated" / "deepsea.py"
    ).read_text()
    lint = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "archc", "lint", "deepsea.arch"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
