"""The Python API: compile .arch text or files, or build an nn.Module directly (for notebooks)."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

from .core.diagnostics import Diagnostic, render
from .core.source import Source
from .core.values import Value
from .driver import for_emit, run


class ArchError(Exception):
    """Compilation failed; `diagnostics` holds every problem found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        errors = [d for d in diagnostics if d.is_error] or diagnostics
        super().__init__("\n\n".join(render(d) for d in errors))


def compile_source(
    text: str,
    params: dict[str, Value] | None = None,
    *,
    arch: str | None = None,
    path: str = "<string>",
    class_name: str = "TorchModel",
    options: Any = None,
) -> str:
    """Compile .arch text to the source of a PyTorch module (one architecture).

    `options` is an `archc.emit_torch.EmitOptions` (memory format, batchnorm folding).
    """
    from .backends.emit_torch import emit

    source = Source(path, text)
    result = run(source, {k: [v] for k, v in (params or {}).items()}, arch)
    if not result.ok:
        raise ArchError(result.diagnostics)
    names = {v.arch_name for v in result.variants}
    if len(names) != 1:
        raise ValueError(
            f"{path} defines several architectures ({', '.join(sorted(names))}); pass arch="
        )
    return emit(for_emit(result, result.variants[0]), Path(path).name, class_name, options)


def compile_file(
    path: str | Path,
    params: dict[str, Value] | None = None,
    *,
    arch: str | None = None,
    class_name: str = "TorchModel",
    options: Any = None,
) -> str:
    """Compile an .arch file to the source of a PyTorch module."""
    path = Path(path)
    return compile_source(
        path.read_text(encoding="utf-8"),
        params,
        arch=arch,
        path=str(path),
        class_name=class_name,
        options=options,
    )


def build_module(
    path_or_text: str | Path,
    params: dict[str, Value] | None = None,
    *,
    arch: str | None = None,
    options: Any = None,
    **kwargs: Value,
) -> Any:
    """Build the `nn.Module` of an architecture without writing files.

    `path_or_text` is a path to an .arch file or .arch text; parameters come as a
    dict or keywords: `build_module("examples/basset.arch", classes=10)`.
    """
    merged = {**(params or {}), **kwargs}
    candidate = (
        Path(path_or_text)
        if isinstance(path_or_text, Path) or "\n" not in str(path_or_text)
        else None
    )
    if candidate is not None and candidate.suffix == ".arch" and candidate.exists():
        code = compile_file(candidate, merged, arch=arch, options=options)
        name = candidate.stem
    else:
        code = compile_source(str(path_or_text), merged, arch=arch, options=options)
        name = "archc_generated"
    module = types.ModuleType(name)
    # The code is archc's own output from a checked IR: identifiers validated, values repr()'d.
    exec(compile(code, f"<archc:{name}>", "exec"), module.__dict__)
    return module.TorchModel()
