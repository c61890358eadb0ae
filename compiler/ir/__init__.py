"""Stage 3, IR: the IR dataclasses (`nodes`), the layer catalogue, resolution of names and values.

Modules use the IR as `from ..ir import nodes as ir`.
"""
