"""archc: a compiler for genomics neural-network architectures.

The public API is lazy so that `import archc` stays cheap; see `archc.api`.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "build_module", "compile_file", "compile_source"]


def __getattr__(name: str) -> Any:
    # Deferred so the CLI's start-up does not pay for the whole pipeline.
    if name in ("build_module", "compile_file", "compile_source"):
        from . import api

        return getattr(api, name)
    raise AttributeError(name)
