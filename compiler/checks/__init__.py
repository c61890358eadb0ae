"""Stage 4, checks: shape inference, tensor bounds and input-length analysis on the IR."""
