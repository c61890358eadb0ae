"""Stage 5, front ends: read .arch files and import seqgra XML and PyTorch .py files.

`files` holds what every front end shares (reading a file within limits, `Options`,
`Loaded`, `UsageError`); the importers import it, and `load` dispatches to them by
suffix. No importer imports `load`, so the package has no cycle.

Front ends come after `ir` and `checks` in the stage order (core < syntax < ir <
checks < frontends < backends < driver): the PyTorch importer sizes what it lifts
with the layer catalogue (`ir.layers`) and runs the compiler's own resolver and
shape checker (`ir.resolve`, `checks.shapes`) to infer the sizes an .arch may leave
out. Resolution and checking work on syntax trees and never read files, so they do
not need the front ends, and every import still points to an earlier stage.
"""
