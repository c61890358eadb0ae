"""Hostile and faulty inputs: nothing from an input runs, and every refusal is a clean diagnostic.

Each class of the security issue has cases here: injection into generated code
(proven inert by importing the result in a subprocess with a canary), names that
would break the generated module, numbers beyond what torch can hold, repeats and
nesting that would make unbounded work, oversized and special input files. Every
refusal is checked for its exit code and message, and for having written nothing.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from archc.cli import main
from archc.frontends.files import MAX_INPUT_BYTES
from archc.ir.expansion import MAX_LAYERS, MAX_NESTING

ROOT = Path(__file__).resolve().parent.parent

TAIL = "  flatten\n  fc = linear(classes)\n}\n"
HEAD = "arch a(classes = 2, length = 10, alphabet = 4) {\n"


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out + out.err


def refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, *flags: str, exit_code: int = 1
) -> str:
    """Compile `text`; it must be refused with `exit_code`, leaving an existing output alone."""
    src = tmp_path / "m.arch"
    src.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    keep = out / "m.py"
    keep.write_text("# an older output\n")
    code, printed = run(capsys, "compile", src, "-o", out, *flags)
    assert code == exit_code, printed
    assert "internal error" not in printed and "Traceback" not in printed
    assert keep.read_text() == "# an older output\n"
    assert sorted(p.name for p in out.iterdir()) == ["m.py"]
    return printed


# ------------------------------------------------------------------ injection

CANARY = "pwned"
# Each payload, were it to escape its context, would create the canary file on import.
RUN = '__import__("os").system("touch ' + CANARY + '")'
# The text each string holds once read (the DSL literal is made by _dsl_string).
PAYLOADS = [
    '""" + str(' + RUN + ') + """',
    "''' + str(" + RUN + ") + '''",
    "\n" + RUN + "\n#",
    "\\\n" + RUN,
    '\\" + str(' + RUN + ') + \\"',
    "\t\n\n" + RUN + "  # ",
    '"' + "\\",
    "{" + RUN + "}",  # escapes an f-string unless its braces are doubled
]


def _dsl_string(payload: str) -> str:
    """The payload as a DSL string literal, in the DSL's own escapes."""
    escaped = payload.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return '"' + escaped + '"'


def _injection_sources() -> list[tuple[str, str]]:
    cases = []
    for i, payload in enumerate(PAYLOADS):
        lit = _dsl_string(payload)
        cases.append(
            (
                f"block-arg-{i}",
                f'block B(s = "x") {{\n  relu\n}}\n{HEAD}  b = B(s = {lit})\n{TAIL}',
            )
        )
        cases.append((f"meta-{i}", f"{HEAD}  meta {{ description = {lit}, labels = [{lit}] }}\n{TAIL}"))
        cases.append((f"param-{i}", f"arch a(classes = 2, length = 10, alphabet = 4, s = {lit}) {{\n{TAIL}"))
        # A string parameter the structure depends on: the constructor's check quotes it.
        fixed = (
            f'arch a(classes = 2, length = 10, alphabet = 4, s = {lit}) {{\n  if s == "x" {{ relu }}\n{TAIL}'
        )
        cases.append((f"fixed-param-{i}", fixed))
    return cases


FILENAMES = [
    'evil\nimport os; os.system("touch pwned")\n#.arch',
    'evil\rimport os; os.system("touch pwned")\r#.arch',
    'evil\x0cimport os\u2028os.system("touch pwned")\x85#.arch',
    'e"""vil\\.arch',
]

# Imports each module in its own folder (the canary would land there), builds the model,
# and prints its METADATA: one interpreter for all cases, as importing torch is slow.
IMPORTER = """
import importlib.util, json, os, sys
for folder, module in json.loads(sys.argv[1]):
    os.chdir(folder)
    spec = importlib.util.spec_from_file_location("generated", module)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.TorchModel()
    print(json.dumps(getattr(mod, "METADATA", None)))
"""


@pytest.fixture(scope="module")
def compiled_hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Every injection case compiled: name -> (its folder, the generated module)."""
    cases: dict[str, tuple[Path, Path]] = {}
    for name, text in _injection_sources():
        folder = tmp_path_factory.mktemp(name)
        src = folder / "m.arch"
        src.write_text(text, encoding="utf-8")
        assert main(["compile", str(src), "-o", str(folder / "out")]) == 0, name
        cases[name] = (folder, folder / "out" / "m.py")
    for i, filename in enumerate(FILENAMES):
        folder = tmp_path_factory.mktemp(f"filename{i}")
        (folder / filename).write_text(HEAD + TAIL, encoding="utf-8")
        assert main(["compile", str(folder / filename), "-o", str(folder / "out")]) == 0
        (module,) = (folder / "out").iterdir()
        cases[f"filename-{i}"] = (folder, module)
    return cases


@pytest.mark.parametrize("name", [c[0] for c in _injection_sources()] + [f"filename-{i}" for i in range(4)])
def test_generated_code_is_valid_and_its_header_is_comments(
    name: str, compiled_hostile: dict[str, tuple[Path, Path]]
) -> None:
    _, module = compiled_hostile[name]
    text = module.read_text(encoding="utf-8")
    tree = ast.parse(text)
    header = text.split('"""', 1)[0]
    assert all(line.startswith("#") or not line for line in header.splitlines())
    # Only imports, classes, the METADATA assignment and the module docstring at the top level.
    kinds = {type(node).__name__ for node in tree.body}
    assert kinds <= {"Expr", "Import", "ImportFrom", "ClassDef", "Assign"}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            assert [t.id for t in node.targets if isinstance(t, ast.Name)] == ["METADATA"]
            ast.literal_eval(node.value)  # plain data, nothing to evaluate


@pytest.mark.torch
def test_no_payload_runs_when_generated_modules_are_imported(
    compiled_hostile: dict[str, tuple[Path, Path]], torch_module: object
) -> None:
    order = sorted(compiled_hostile)
    pairs = [(str(compiled_hostile[n][0]), str(compiled_hostile[n][1])) for n in order]
    done = subprocess.run(
        [sys.executable, "-c", IMPORTER, json.dumps(pairs)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    ran = [n for n in order if (compiled_hostile[n][0] / CANARY).exists()]
    assert ran == [], f"payloads ran: {ran}"
    metadata = dict(zip(order, (json.loads(line) for line in done.stdout.splitlines()), strict=True))
    for name in order:
        if name.startswith("meta-"):
            # The text survives as data: the values equal what the .arch said.
            payload = PAYLOADS[int(name.split("-")[1])]
            assert metadata[name] == {"description": payload, "labels": [payload]}, name


def test_the_canary_fires_when_code_does_escape(tmp_path: Path) -> None:
    """The importer above would notice a payload that runs."""
    module = tmp_path / "m.py"
    module.write_text(RUN + "\nclass TorchModel:\n    pass\n")
    done = subprocess.run(
        [sys.executable, "-c", IMPORTER, json.dumps([(str(tmp_path), str(module))])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / CANARY).exists()


def test_diagnostics_print_no_terminal_escapes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = HEAD + "  # \x1b]0;owned\x07 a comment with escapes\n  conv = conv1d(3 -> 5, 3)\n" + TAIL
    printed = refused(capsys, tmp_path, text)
    assert "\x1b" not in printed and "\x07" not in printed
    assert "error[shape-mismatch]" in printed


def test_control_characters_in_strings_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = refused(capsys, tmp_path, HEAD + '  meta { name = "bell\x07" }\n' + TAIL)
    assert "error[bad-value]: a string cannot hold the control character U+0007" in printed
    assert "m.arch:2:22" in printed


# ------------------------------------------------------------------ names


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("class", "it is a Python keyword"),
        ("None", "it is a Python keyword"),
        ("torch", "the generated module already uses that name"),
        ("nn", "the generated module already uses that name"),
        ("F", "the generated module already uses that name"),
        ("METADATA", "the generated module already uses that name"),
        ("self", "the generated module already uses that name"),
        ("super", "it would hide the Python builtin of that name"),
        ("1abc", "it is not a Python identifier"),
        ("a-b", "it is not a Python identifier"),
        ("_Conv2dT", "the generated module already uses that name"),
    ],
)
def test_class_name_flag_is_validated(
    name: str, why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = refused(capsys, tmp_path, HEAD + TAIL, "--class-name", name, exit_code=2)
    assert f"--class-name {name!r} cannot name the module class: {why}" in printed
    assert "help: for example --class-name " in printed


def test_class_name_equal_to_a_block(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "block Res() {\n  relu\n}\n" + HEAD + "  r = Res()\n" + TAIL
    printed = refused(capsys, tmp_path, text, "--class-name", "Res", exit_code=2)
    assert "the module class `Res` would have the name of block `Res`" in printed
    assert "e.g. ResBlock" in printed


@pytest.mark.parametrize(
    ("name", "why", "suggestion"),
    [
        ("super", "it would hide the Python builtin of that name in the generated module", "Super"),
        ("self", "the generated module already uses that name", "Self"),
        ("METADATA", "the generated module already uses that name", "METADATABlock"),
        ("torch", "the generated module already uses that name", "Torch"),
        ("F", "the generated module already uses that name", "FBlock"),
        ("list", "it would hide the Python builtin of that name in the generated module", "List"),
        ("module", "the generated module already uses that name", "Module"),
    ],
)
def test_block_names_are_validated(
    name: str, why: str, suggestion: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = f"block {name}() {{\n  relu\n}}\n" + HEAD + f"  b = {name}()\n" + TAIL
    printed = refused(capsys, tmp_path, text)
    assert f"error[bad-name]: `{name}` cannot name a block: {why}\n --> " in printed
    assert "m.arch:1:7" in printed
    assert f"call it e.g. `{suggestion}`" in printed


def test_parameter_named_like_a_keyword(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    printed = refused(
        capsys, tmp_path, "arch a(classes = 2, length = 10, alphabet = 4, lambda = 1) {\n" + TAIL
    )
    assert "error[bad-name]: `lambda` cannot name a parameter: it is a Python keyword" in printed
    assert "m.arch:1:48" in printed


@pytest.mark.torch
def test_generated_block_names_never_collide_with_user_blocks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], torch_module: object
) -> None:
    # B used with two arguments needs a second class; the user already has a block B_2.
    text = (
        "block B(c) {\n  conv = conv1d(c, 3, padding = 1)\n}\n"
        "block B_2() {\n  conv = conv1d(7, 1)\n}\n" + HEAD + "  b1 = B(5)\n  b2 = B(6)\n  b3 = B_2()\n" + TAIL
    )
    src = tmp_path / "m.arch"
    src.write_text(text)
    for flags, shared in (("--concrete",), False), ((), True):
        code, printed = run(capsys, "compile", src, *flags, "-o", tmp_path)
        assert code == 0, printed
        namespace: dict[str, object] = {}
        exec(compile((tmp_path / "m.py").read_text(), "m.py", "exec"), namespace)
        model = namespace["TorchModel"]()  # type: ignore[operator]
        convs = [model.b1.conv, model.b2.conv, model.b3.conv]
        assert [c.out_channels for c in convs] == [5, 6, 7]
        assert [c.in_channels for c in convs] == [4, 5, 6]
        assert type(model.b3).__name__ == "B_2"
        if shared:  # generic: one class B(in_channels, c) for both calls
            assert type(model.b2) is type(model.b1)
        else:  # literal sizes: a second class, whose name avoids the user's B_2
            assert type(model.b2).__name__ not in ("B", "B_2")
        total = sum(p.numel() for p in model.parameters())
        assert total == (4 * 5 * 3 + 5) + (5 * 6 * 3 + 6) + (6 * 7 + 7) + (7 * 10 * 2 + 2)


# ------------------------------------------------------------------ numbers


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            "c = conv1d(1" + "0" * 100 + ", 3)",
            "error[bad-value]: this number does not fit in a 64-bit integer",
        ),
        (
            "c = conv1d(9223372036854775807 * 2, 3)",
            "error[bad-value]: this value does not fit in a 64-bit integer",
        ),
        ("c = conv1d(100000000000, 3)", "must be at most 2,147,483,647, got 100000000000"),
        ("c = conv1d(8, 3, stride = 3000000000)", "`stride` of `conv1d`: must be at most 2,147,483,647"),
        ("c = conv1d(8, 3, padding = 4000000000)", "`padding` of `conv1d`: must be at most 2,147,483,647"),
        ("bn = batchnorm1d(eps = 1e999)", "error[bad-value]: this number is too large for a 64-bit float"),
        (
            "bn = batchnorm1d(eps = -0.001)",
            "error[bad-value]: `eps` of `batchnorm1d`: must be greater than 0",
        ),
        ("bn = batchnorm1d(eps = 0.0)", "error[bad-value]: `eps` of `batchnorm1d`: must be greater than 0"),
        (
            "bn = batchnorm1d(momentum = 1.5)",
            "error[bad-value]: `momentum` of `batchnorm1d`: must lie in [0, 1]",
        ),
        ("dropout(1e300 * 1e300)", "error[bad-value]: this computes inf, not a finite number"),
        ("dropout(1.5)", "error[bad-probability]"),
        ("view(batch, 3000000000)", "error[bad-size]: sizes are at most 2,147,483,647"),
        (
            "fc1 = linear(2000000000) | fc2 = linear(2000000000)",
            "error[too-large]: `linear` would have a weight",
        ),
    ],
)
def test_numbers_are_bounded(
    step: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = refused(capsys, tmp_path, HEAD + "  " + step + "\n" + TAIL)
    assert message in printed
    assert "m.arch:2:" in printed


def test_activation_elements_are_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "arch a(classes = 2, length = 2000000000, alphabet = 4) {\n  c = conv1d(1000, 1)\n" + TAIL
    printed = refused(capsys, tmp_path, text)
    assert (
        "error[too-large]: this step's output (N, 1000, 2000000000) holds 2,000,000,000,000 elements"
        in printed
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9" * 100_000, "--set length: the value is 100,000 characters long"),
        ("9" * 500, "is too large: sizes are at most 2,147,483,647"),
        ("1e999", "is not a finite number"),
    ],
)
def test_set_values_are_bounded(
    value: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = refused(capsys, tmp_path, HEAD + TAIL, "--set", f"length={value}", exit_code=2)
    assert message in printed
    assert len(printed) < 2000


def test_set_size_beyond_the_limit_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    printed = refused(capsys, tmp_path, HEAD + TAIL, "--set", "length=99999999999")
    assert "error[bad-size]: input axis `length` must have a whole size from 1 to 2,147,483,647" in printed
    assert "m.arch:1:" in printed


# ------------------------------------------------------------------ work


def test_huge_repeat_is_refused_before_expanding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "block B() {\n  relu\n}\n" + HEAD + "  s = seq { B() * 1000000000 }\n" + TAIL
    printed = refused(capsys, tmp_path, text)
    assert f"expands to more than {MAX_LAYERS:,} layers; archc builds at most {MAX_LAYERS:,}" in printed
    assert "m.arch:5:13" in printed


def test_doubling_blocks_are_refused_before_expanding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ["block B0() {\n  relu\n}"] + [f"block B{i}() {{\n  B{i - 1}() * 2\n}}" for i in range(1, 41)]
    text = "\n".join(lines) + "\n" + HEAD + "  s = seq { B40() }\n" + TAIL
    printed = refused(capsys, tmp_path, text)
    assert "error[too-large]" in printed


def test_repeated_layer_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    printed = refused(capsys, tmp_path, HEAD + "  s = seq { relu * 300000 }\n" + TAIL)
    assert f"expands to more than {MAX_LAYERS:,} layers" in printed
    assert "m.arch:2:13" in printed


def test_a_model_at_the_layer_limit_still_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "m.arch"
    src.write_text("block B() {\n  relu\n}\n" + HEAD + f"  s = seq {{ B() * {MAX_LAYERS // 10} }}\n" + TAIL)
    code, printed = run(capsys, "lint", src)
    assert code == 0, printed


def _block_chain(n: int) -> str:
    lines = ["block B0() {\n  relu\n}"] + [f"block B{i}() {{\n  b = B{i - 1}()\n}}" for i in range(1, n)]
    return "\n".join(lines) + "\n" + HEAD + f"  b = B{n - 1}()\n" + TAIL


def test_deep_block_nesting_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    printed = refused(capsys, tmp_path, _block_chain(200))
    assert (
        f"error[too-deep]: blocks and groups nest 200 levels deep in `a`; archc handles at most {MAX_NESTING}"
        in printed
    )


@pytest.mark.torch
def test_nesting_at_the_limit_compiles_and_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], torch_module: object
) -> None:
    src = tmp_path / "m.arch"
    src.write_text(_block_chain(MAX_NESTING))
    for command in (["lint"], ["summary"], ["graph", "-o", tmp_path / "g.dot"], ["compile", "-o", tmp_path]):
        code, printed = run(capsys, command[0], src, *command[1:])
        assert code == 0, printed
    namespace: dict[str, object] = {}
    exec(compile((tmp_path / "m.py").read_text(), "m.py", "exec"), namespace)
    namespace["TorchModel"]()  # type: ignore[operator]


def test_deep_nesting_in_a_subprocess_has_no_traceback(tmp_path: Path) -> None:
    # Outside pytest's own stack: the CLI as a user runs it.
    src = tmp_path / "m.arch"
    src.write_text(_block_chain(5000))
    done = subprocess.run(
        [sys.executable, "-m", "archc", "lint", str(src)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1, done.stderr
    assert "error[too-deep]" in done.stdout
    assert "Traceback" not in done.stderr + done.stdout


# ------------------------------------------------------------------ input files


def test_file_over_the_cap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = HEAD + "  " + " | ".join(["relu"] * (MAX_INPUT_BYTES // 6)) + "\n" + TAIL
    assert len(text) > MAX_INPUT_BYTES
    printed = refused(capsys, tmp_path, text)
    assert f"error[too-large]: the file is larger than {MAX_INPUT_BYTES:,} bytes" in printed
    assert len(printed) < 2000


@pytest.mark.parametrize("suffix", [".arch", ".py", ".xml"])
def test_special_files_are_not_read(suffix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / f"zero{suffix}"
    link.symlink_to("/dev/zero")
    code, printed = run(capsys, "lint", link)
    assert code == 2
    assert "is not a regular file (archc reads only files)" in printed


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_is_not_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "pipe.arch"
    os.mkfifo(fifo)
    code, printed = run(capsys, "lint", fifo)
    assert code == 2
    assert "is not a regular file" in printed


def test_long_line_diagnostic_is_cut_around_the_caret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chain = " | ".join(["relu"] * 20000) + " | c = conv1d(3 -> 9, 3)"
    printed = refused(capsys, tmp_path, HEAD + "  " + chain + "\n" + TAIL)
    assert "error[shape-mismatch]" in printed
    assert len(printed) < 2000
    shown = next(line for line in printed.splitlines() if line.startswith("2 | "))
    caret = next(line for line in printed.splitlines() if "^" in line)
    assert shown.startswith("2 | ...") and len(shown) < 200
    # The caret still stands under the written size.
    column = caret.index("^")
    assert shown[column] == "3"


def test_long_xml_attribute_diagnostic_is_short(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<seqgramodel><general id="m">'
        '<name x="' + "a" * 900_000 + '">n</name></general></seqgramodel>\n'
    )
    path = tmp_path / "m.xml"
    path.write_text(xml)
    code, printed = run(capsys, "lint", path)
    assert code == 1
    assert "error[" in printed
    assert len(printed) < 5000
    assert "internal error" not in printed


def test_a_long_chain_within_the_cap_parses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "m.arch"
    src.write_text(HEAD + "  " + " | ".join(["relu"] * 20000) + "\n" + TAIL)
    code, printed = run(capsys, "lint", src)
    assert code == 0, printed


def test_imported_file_names_cannot_add_lines_to_the_arch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "m\narch evil(classes = 2, length = 10, alphabet = 4) {\n  relu\n}\n#.py"
    src = tmp_path / name
    src.write_text((ROOT / "tests/fixtures/torch/fc_only.py").read_text())
    out = tmp_path / "m.arch"
    code, printed = run(capsys, "import", src, "-o", out)
    assert code == 0, printed
    text = out.read_text()
    assert "arch evil" not in [line.split("(")[0] for line in text.splitlines()]
    code, printed = run(capsys, "lint", out)
    assert code == 0, printed
    assert "evil" not in printed


@pytest.mark.parametrize(
    ("text", "name", "where"),
    [
        # Parameters become constructor arguments: these would shadow what __init__ reads.
        (
            "arch m(classes = 2, length = 10, alphabet = 4, nn = 3) {\n  fc = linear(classes)\n}\n",
            "nn",
            "1:48",
        ),
        ("arch m(range = 2, length = 10, alphabet = 4) {\n  fc = linear(range)\n}\n", "range", "1:8"),
        (
            "block B(super) {\n  c = conv1d(super, 3)\n}\narch m(length = 10, alphabet = 4) {\n  b = B(8)\n}\n",
            "super",
            "1:9",
        ),
        (
            "block B(ValueError) {\n  c = conv1d(4, 3)\n}\narch m(length = 10, alphabet = 4) {\n  b = B(8)\n}\n",
            "ValueError",
            "1:9",
        ),
    ],
)
def test_parameter_names_the_constructor_reads_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, name: str, where: str
) -> None:
    printed = refused(capsys, tmp_path, text)
    assert (
        f"error[bad-name]: `{name}` cannot name a parameter: the generated constructor uses that name"
        in printed
    )
    assert f"m.arch:{where}" in printed


@pytest.mark.torch
@pytest.mark.parametrize("index", range(len(PAYLOADS)))
def test_a_fixed_string_parameter_is_quoted_as_data(
    index: int,
    compiled_hostile: dict[str, tuple[Path, Path]],
    torch_module: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The constructor's check for a fixed parameter names its value: as text, not code."""
    monkeypatch.chdir(tmp_path)
    _, module = compiled_hostile[f"fixed-param-{index}"]
    namespace: dict[str, object] = {}
    exec(compile(module.read_text(encoding="utf-8"), str(module), "exec"), namespace)
    model = namespace["TorchModel"]
    model()  # type: ignore[operator]
    with pytest.raises(ValueError) as refused_value:
        model(s="another")  # type: ignore[operator]
    assert f"this module was generated for s={PAYLOADS[index]!r}" in str(refused_value.value)
    assert not (tmp_path / CANARY).exists()
