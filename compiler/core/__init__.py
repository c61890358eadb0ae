"""Stage 1, core: source text and spans, values, diagnostics, safe Python text, writing outputs.

Every later stage may import these; they import nothing else of archc.
"""
