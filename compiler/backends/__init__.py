"""Stage 6, back ends: PyTorch code, seqgra XML, summary tables and Graphviz diagrams."""
