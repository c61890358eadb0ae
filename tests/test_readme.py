"""The README's examples are real: every command it shows is run and its output compared.

What is an example (found by parsing README.md):

- a fenced block of `$ archc ...` lines, each followed by the output the README shows (up to
  the next `$ ` line or the end of the block);
- a fenced block preceded by a directive, an HTML comment on its own line (invisible on GitHub):
  `<!-- readme-test: run CMD -->`: the block is what CMD prints (the Quick start);
  `<!-- readme-test: file PATH after CMD -->`: the block is the content of PATH after CMD;
  `<!-- readme-test: file PATH -->`: the block is the content of the shipped file PATH; a first
  line `# PATH` stands for the file's leading comment lines;
- `<!-- readme-test: inline CMD -->`: each code span of the next paragraph that starts with
  `error[` or `warning[` is a whole line of what CMD prints.

More directives set up the next example: `<!-- readme-test: exit N -->` (expected exit code,
default 0) and `<!-- readme-test: setup NAME = SOURCE -->`, which writes NAME into the working
directory from SOURCE: a repo path, optionally followed by `, "OLD" -> "NEW"` replacements (each
must match exactly once), `seed:MODEL` (the seed's Python, via tests/seeds.py) or
`shared:PATH` (a file under ../shared). Examples needing a missing seed or shared file skip.

Each command runs with the venv's `archc` in a fresh temporary directory holding copies of
`examples/` and `tests/fixtures/`, so the README's relative paths work and nothing is written
into the repo; globs are expanded there. `NO_COLOR=1`, and `PYTHONUNBUFFERED=1` so that stdout
and stderr, read from one pipe, interleave as on a terminal; the examples run concurrently (a
module fixture), each test then compares one. The comparison is exact, with two normalizations:
trailing blank lines at the end of the output are dropped, and a shipped file's leading comment
lines are shown as `# PATH` (see above).

Checked separately, because the README shows them in another form: the `--set` variant lines
of "Parameters and variants" (the README abbreviates their output; the test checks the files
written and that the README block still reads as tested) and the two diagrams, docs/basset.svg
and docs/chromdragonn.svg, compared byte for byte with a fresh `archc graph` (skipped without
Graphviz's `dot`).

Not covered: the Python API block (no output shown; tests/test_compile.py covers the API), the
shortened ChromDragoNN excerpt in "The language" (it elides lines with `...` and annotates
them), and commands shown without output (setup, pytest, bench, the channels-last compile).

Refresh after an intended change of archc's output:
`ARCHC_UPDATE_README=1 python -m pytest tests/test_readme.py` (or `--update-golden`) rewrites,
in README.md, the shown output of every covered example with the real output; then review the
diff. The diagrams are not rewritten.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from seeds import SEED_FILE, seed_python

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SHARED = ROOT.parent / "shared"
ARCHC = ROOT / ".venv" / "bin" / "archc"
if not ARCHC.exists():  # an installed archc elsewhere (e.g. a wheel test venv)
    ARCHC = Path(shutil.which("archc") or ARCHC)

DIRECTIVE = re.compile(r"^<!-- readme-test: (.*) -->$")
SPAN = re.compile(r"(``?)((?:error|warning)\[.*?)\1(?!`)")


@dataclass
class Example:
    """One README example: a command, what the README shows for it, and where."""

    kind: str  # "output", "file" or "inline"
    command: str  # "" for a shipped file
    start: int  # README line index of the first shown line
    end: int  # index after the last shown line
    exit_code: int = 0
    setup: list[str] = field(default_factory=list)
    path: str = ""  # the file compared, for kind "file"

    @property
    def id(self) -> str:
        if self.kind == "file":
            return f"{self.path} after {self.command}" if self.command else self.path
        return f"inline: {self.command}" if self.kind == "inline" else self.command


def parse(lines: list[str]) -> list[Example]:
    """Every example of the README, in order."""
    examples: list[Example] = []
    pending: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        match = DIRECTIVE.match(line.strip())
        if match and match.group(1).startswith("inline "):
            examples.extend(block_examples(lines, [*pending, match.group(1)], i + 1, i + 1))
            pending = []
        elif match:
            pending.append(match.group(1))
        if match:
            i += 1
            continue
        if not line.startswith("```"):
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        examples.extend(block_examples(lines, pending, i + 1, end))
        pending = []
        i = end + 1
    assert not pending, f"README directives not followed by an example: {pending}"
    return examples


def block_examples(lines: list[str], directives: list[str], start: int, end: int) -> list[Example]:
    """The examples of one fenced block (lines[start:end]) and the directives before it."""
    exit_code, setup, found = 0, [], []
    for directive in directives:
        word, _, rest = directive.partition(" ")
        if word == "exit":
            exit_code = int(rest)
        elif word == "setup":
            setup.append(rest)
        elif word == "run":
            found.append(Example("output", shown_before(lines, start, rest), start, end))
        elif word == "file":
            path, _, command = rest.partition(" after ")
            if command:
                shown_before(lines, start, command, f"`{path}`")
            found.append(Example("file", command, start, end, path=path))
        elif word == "inline":
            found.append(inline_example(lines, rest, start))
        else:
            raise AssertionError(f"unknown README directive: {directive}")
    dollar = [j for j in range(start, end) if lines[j].startswith("$ ")]
    for k, j in enumerate(dollar):
        following = dollar[k + 1] if k + 1 < len(dollar) else end
        found.append(Example("output", lines[j][2:], j + 1, following))
    for example in found:
        example.exit_code, example.setup = exit_code, setup
    return found


def shown_before(lines: list[str], start: int, *texts: str) -> str:
    """Check that the README shows a directive's command (and path) just before the example."""
    before = "\n".join(lines[max(0, start - 16) : start])
    for text in texts:
        assert text in before, (
            f"README.md:{start}: a directive names {text!r}, which the README does not show"
        )
    return texts[0]


def inline_example(lines: list[str], command: str, start: int) -> Example:
    """An `inline` directive's example: the paragraph from line `start` on."""
    while not lines[start].strip():
        start += 1
    end = start
    while lines[end].strip():
        end += 1
    return Example("inline", command, start, end)


README_LINES = README.read_text(encoding="utf-8").splitlines()
EXAMPLES = parse(README_LINES)


def updating(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden")) or os.environ.get("ARCHC_UPDATE_README") == "1"


def prepare(workdir: Path, setup: list[str]) -> None:
    """Copy the shipped inputs into workdir and run the example's setup directives."""
    shutil.copytree(ROOT / "examples", workdir / "examples")
    shutil.copytree(ROOT / "tests" / "fixtures", workdir / "tests" / "fixtures")
    for item in setup:
        name, _, source = (part.strip() for part in item.partition("="))
        source, *replacements = source.split(", ")
        if source.startswith("seed:"):
            if not SEED_FILE.exists():
                pytest.skip(f"seed file {SEED_FILE} is not present")
            text = seed_python(source.removeprefix("seed:"))
        elif source.startswith("shared:"):
            path = SHARED / source.removeprefix("shared:")
            if not path.exists():
                pytest.skip(f"shared file {path} is not present")
            text = path.read_text(encoding="utf-8")
        else:
            text = (ROOT / source).read_text(encoding="utf-8")
        for replacement in replacements:
            old, new = re.fullmatch(r'"(.*)" -> "(.*)"', replacement).groups()  # type: ignore[union-attr]
            assert text.count(old) == 1, f"setup of {name}: {old!r} must occur exactly once"
            text = text.replace(old, new)
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_text(text, encoding="utf-8")


def run(command: str, workdir: Path) -> tuple[int, str]:
    """Run a README command line in workdir: exit code and stdout+stderr as one text."""
    words = shlex.split(command)
    assert words[0] == "archc", f"not an archc command: {command}"
    args = [str(ARCHC)]
    for word in words[1:]:
        expanded = sorted(glob.glob(word, root_dir=workdir)) if "*" in word else []
        args.extend(expanded or [word])
    env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("FORCE_COLOR", None)
    done = subprocess.run(
        args, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120
    )
    return done.returncode, done.stdout


def shown_file(text: str, path: str) -> list[str]:
    """A shipped file as the README shows it: `# PATH` in place of its leading comments."""
    lines = text.splitlines()
    body = lines
    while body and body[0].startswith("#"):
        body = body[1:]
    return [f"# {path}", *body] if body is not lines else lines


def rewrite(example: Example, new: list[str]) -> None:
    """Replace the shown lines of one example in README.md (re-parsed: earlier updates move lines)."""
    lines = README.read_text(encoding="utf-8").splitlines()
    index = EXAMPLES.index(example)
    current = parse(lines)[index]
    lines[current.start : current.end] = new
    README.write_text("\n".join(lines) + "\n", encoding="utf-8")


def check(example: Example, shown: list[str], real: list[str], request: pytest.FixtureRequest) -> None:
    if shown != real and updating(request):
        rewrite(example, real)
        return
    assert "\n".join(shown) == "\n".join(real), f"README.md:{example.start + 1}: {example.id}"


def real_lines(example: Example, workdir: Path) -> tuple[list[str], int, str]:
    """What the README should show for an example: lines, exit code and the raw output."""
    prepare(workdir, example.setup)
    if not example.command:  # a shipped file
        return shown_file((workdir / example.path).read_text(encoding="utf-8"), example.path), 0, ""
    code, output = run(example.command, workdir)
    if example.kind == "file":
        real = (workdir / example.path).read_text(encoding="utf-8").splitlines()
    elif example.kind == "inline":
        real = inline_spans(README_LINES[example.start : example.end], output)
    else:
        real = output.rstrip("\n").splitlines()
    return real, code, output


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[Future[tuple[list[str], int, str]]]:
    """Every example, run concurrently (each process is mostly start-up time)."""
    with ThreadPoolExecutor(4) as pool:
        return [pool.submit(real_lines, e, tmp_path_factory.mktemp("readme")) for e in EXAMPLES]


@pytest.mark.parametrize("index", range(len(EXAMPLES)), ids=[e.id for e in EXAMPLES])
def test_readme_example(
    index: int, outcomes: list[Future[tuple[list[str], int, str]]], request: pytest.FixtureRequest
) -> None:
    """The README shows what the command really prints or writes, and the exit code matches."""
    example = EXAMPLES[index]
    real, code, output = outcomes[index].result()  # re-raises a skip or failure of the run
    assert code == example.exit_code, (
        f"{example.id}: exit code {code}, expected {example.exit_code}\n{output}"
    )
    check(example, README_LINES[example.start : example.end], real, request)


def inline_spans(paragraph: list[str], output: str) -> list[str]:
    """The paragraph with each diagnostic code span replaced by the output line it quotes."""
    printed = output.splitlines()

    def real(match: re.Match[str]) -> str:
        code = match.group(2).split(":")[0]
        quoted = next((line for line in printed if line.startswith(code + ":")), None)
        assert quoted is not None, f"the command prints no {code} line:\n{output}"
        fence = "``" if "`" in quoted else "`"
        return f"{fence}{quoted}{fence}"

    return [SPAN.sub(real, line) for line in paragraph]


def test_readme_has_examples() -> None:
    """The parser finds the examples (a README reorganisation must not silently drop them)."""
    kinds = [e.kind for e in EXAMPLES]
    assert kinds.count("output") >= 10 and "file" in kinds and "inline" in kinds


VARIANTS = """\
archc compile examples/basset.arch --set classes=10 -o out/     # out/basset.py, TorchModel(classes: int = 10)
archc compile examples/basset.arch --set classes=2,10,20,50 -o out/
# wrote out/basset_classes2.py ... out/basset_classes50.py
archc compile model.arch --set classes=2,3 --set length=500,1000 -o out/
# one file per combination: model_classes2_length500.py, ...
archc compile examples/basset.arch --concrete -o out/           # literal sizes, TorchModel()
"""


def test_readme_variants(tmp_path: Path) -> None:
    """The `--set` variants of "Parameters and variants" write the files the README names."""
    assert VARIANTS in README.read_text(encoding="utf-8"), "the variants block changed: update this test"
    prepare(tmp_path, ['model.arch = examples/basset.arch, "linear(3600 -> 1000)" -> "linear(1000)"'])
    code, output = run("archc compile examples/basset.arch --set classes=10 -o out/", tmp_path)
    assert code == 0 and output.startswith("wrote out/basset.py\n"), output
    generic = (tmp_path / "out" / "basset.py").read_text(encoding="utf-8")
    assert "classes: int = 10" in generic and "nn.Linear(1000, classes)" in generic
    code, output = run("archc compile examples/basset.arch --set classes=2,10,20,50 -o out/", tmp_path)
    wrote = [line for line in output.splitlines() if line.startswith("wrote ")]
    assert code == 0 and wrote == [f"wrote out/basset_classes{n}.py" for n in (2, 10, 20, 50)], output
    code, output = run("archc compile model.arch --set classes=2,3 --set length=500,1000 -o out/", tmp_path)
    wrote = [line for line in output.splitlines() if line.startswith("wrote ")]
    combos = [f"wrote out/model_classes{c}_length{n}.py" for c in (2, 3) for n in (500, 1000)]
    assert code == 0 and wrote == combos, output
    code, output = run("archc compile examples/basset.arch --concrete -o out/", tmp_path)
    concrete = (tmp_path / "out" / "basset.py").read_text(encoding="utf-8")
    assert code == 0 and "def __init__(self) -> None:" in concrete and "nn.Linear(1000, 50)" in concrete


GRAPHS = {
    "docs/basset.svg": "archc graph examples/basset.arch -o docs/basset.svg",
    "docs/chromdragonn.svg": "archc graph examples/chromdragonn.arch --depth 2 -o docs/chromdragonn.svg",
}


@pytest.mark.parametrize("path", GRAPHS)
def test_readme_diagram(path: str, tmp_path: Path) -> None:
    """The diagrams the README shows are what `archc graph` draws today."""
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    text = README.read_text(encoding="utf-8")
    assert f"]({path})" in text and ("`archc graph" in text and "--depth 2" in text)
    prepare(tmp_path, [])
    code, output = run(GRAPHS[path], tmp_path)
    assert code == 0, output
    assert (tmp_path / path).read_bytes() == (ROOT / path).read_bytes(), (
        f"{path} is stale: run `{GRAPHS[path]}`"
    )
