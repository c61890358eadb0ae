"""seqgra's vocabulary: the tasks and sequence spaces a definition may name.

One table for both directions: the seqgra importer (frontends) checks definitions
against it and the seqgra exporter (backends) writes from it, and neither imports
the other.
"""

from __future__ import annotations

TASKS = ("multi-class classification", "multi-label classification")
ALPHABETS = {"DNA": 4, "RNA": 4, "protein": 20}
