"""Read the reference architectures out of the shared seed file at test time (never copied)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED_FILE = ROOT.parent / "shared" / "seeds" / "000_137f7d1edf71d313.txt"
SEQGRA_MD = ROOT.parent / "shared" / "seqgra" / "md"
SEQGRA_XSD = ROOT.parent / "shared" / "seqgra" / "model-config.xsd"

MODELS = ("basset", "chromdragonn", "deepsea")

# Where each seed writes its class count, so tests can make the 2/10/20-class variants.
_CLASS_COUNT = {
    "basset": (r"out_features=50\)", "out_features={n})"),
    "chromdragonn": (r"self\.num_cell_types = 50", "self.num_cell_types = {n}"),
    "deepsea": (r"Linear\(925, 50\)", "Linear(925, {n})"),
}

# The input layout each seed module itself expects (without the batch axis).
SEED_INPUT = {"basset": (4, 1000), "chromdragonn": (1000, 4), "deepsea": (4, 1000)}


def code_blocks(language: str) -> dict[str, str]:
    """The seed's code blocks of one language, keyed by the file name written above each."""
    text = SEED_FILE.read_text(encoding="utf-8")
    lines = text.splitlines()
    blocks: dict[str, str] = {}
    for i, line in enumerate(lines):
        if line.strip() != f".. code-block:: {language}":
            continue
        title = next(
            (
                lines[j].strip().strip("`").rstrip(":").strip("`")
                for j in range(i - 1, -1, -1)
                if lines[j].strip()
            ),
            "",
        )
        body: list[str] = []
        for follow in lines[i + 1 :]:
            if follow.strip() and not follow.startswith((" ", "\t")):
                break
            body.append(follow)
        blocks[title] = textwrap.dedent("\n".join(body)).strip() + "\n"
    return blocks


def seed_python(model: str, classes: int = 50) -> str:
    """The seed's Python for one model, with its class count changed if asked."""
    for title, code in code_blocks("python").items():
        if title.endswith(f"-{model}.py"):
            pattern, replacement = _CLASS_COUNT[model]
            code, count = re.subn(pattern, replacement.format(n=classes), code)
            if count != 1:
                raise AssertionError(f"cannot find the class count of {model} in the seed")
            return code
    raise KeyError(model)


def seed_xml(model: str) -> str:
    for title, code in code_blocks("xml").items():
        if title.endswith(f"-{model}-s1.xml"):
            return code
    raise KeyError(model)


def seed_lines(model: str) -> int:
    """Non-blank, non-comment lines of the seed's Python for a model."""
    code = seed_python(model)
    return sum(1 for line in code.splitlines() if line.strip() and not line.strip().startswith("#"))
