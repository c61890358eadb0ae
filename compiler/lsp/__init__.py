"""`archc lsp`: a language server for .arch files (needs the `lsp` extra, pygls).

`analysis` computes what the server shows from the pipeline's own results and needs no
pygls; `server` speaks the protocol.
"""
