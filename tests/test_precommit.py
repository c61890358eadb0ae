"""The pre-commit hooks of .pre-commit-hooks.yaml, run by pre-commit itself on a temporary repository.

pre-commit installs a hook repository from git at a commit, into a virtual environment of
its own (pip install of archc and its dependencies from the configured package index), so
the test commits a copy of this working tree, tracked and new files alike, to a temporary
git repository and points a second temporary repository's `.pre-commit-config.yaml` at it.
Marked slow (it builds a virtual environment, about half a minute); CI runs slow tests too
(`.ci/run` runs the whole suite without a marker filter).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD = "arch good(classes = 2, length = 100, alphabet = 4) {\n    conv = conv1d(8, 5) | relu\n    flatten\n    fc = linear(classes)\n}\n"
# Parses, but linear(10 -> ...) does not match the 768 features it is given.
BAD_SHAPE = (
    "arch bad(length = 100, alphabet = 4) {\n    conv = conv1d(8, 5) | flatten | fc = linear(10 -> 2)\n}\n"
)
UNFORMATTED = "arch messy(classes=2,length=100,alphabet=4){\n  conv=conv1d(8,5)|relu  # keep\n  flatten\n  fc=linear(classes)\n}\n"

pytestmark = pytest.mark.slow


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def snapshot(dest: Path) -> str:
    """Commit the working tree (tracked and untracked, not ignored files) to a new repo at `dest`."""
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    dest.mkdir()
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "snapshot")
    return git(dest, "rev-parse", "HEAD").strip()


def pre_commit(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "GIT_CONFIG_GLOBAL": os.devnull, "NO_COLOR": "1"}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args, "--color", "never"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A user's repository whose config uses both hooks of a snapshot of this tree."""
    if shutil.which("git") is None:
        pytest.fail("git is needed to run pre-commit")
    base = tmp_path_factory.mktemp("precommit")
    rev = snapshot(base / "archc")
    user = base / "user"
    user.mkdir()
    git(user, "init", "-q")
    (user / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {base / 'archc'}\n    rev: {rev}\n    hooks:\n      - id: archc-lint\n      - id: archc-fmt\n",
        encoding="utf-8",
    )
    return user, base / "home"


def test_hooks_pass_on_good_files_and_fail_on_bad_ones(project: tuple[Path, Path]) -> None:
    user, home = project
    (user / "good.arch").write_text(GOOD, encoding="utf-8")
    (user / "notes.xml").write_text("<project/>\n", encoding="utf-8")  # not selected
    git(user, "add", "-A")
    run = pre_commit(user, home, "run", "--all-files")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "archc lint" in run.stdout and "archc fmt" in run.stdout
    assert (user / "good.arch").read_text() == GOOD

    (user / "bad.arch").write_text(BAD_SHAPE, encoding="utf-8")
    (user / "messy.arch").write_text(UNFORMATTED, encoding="utf-8")
    git(user, "add", "-A")
    run = pre_commit(user, home, "run", "--all-files")
    assert run.returncode == 1
    lint, fmt = run.stdout.split("archc fmt", 1)
    assert "archc lint" in lint and "Failed" in lint
    assert "error[shape-mismatch]" in lint and "bad.arch:2:" in lint
    assert "good.arch" not in lint.split("Failed", 1)[1].replace("in 3 files", "")
    assert "Failed" in fmt and "files were modified by this hook" in fmt
    assert "reformatted messy.arch" in fmt
    assert (user / "messy.arch").read_text() == (
        "arch messy(classes = 2, length = 100, alphabet = 4) {\n"
        "    conv = conv1d(8, 5) | relu  # keep\n    flatten\n    fc = linear(classes)\n}\n"
    )
    assert (user / "bad.arch").read_text() == BAD_SHAPE  # already formatted: untouched

    # Fixed and formatted: both hooks pass again.
    (user / "bad.arch").unlink()
    git(user, "add", "-A")
    run = pre_commit(user, home, "run", "--all-files")
    assert run.returncode == 0, run.stdout + run.stderr
