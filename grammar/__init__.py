"""Lark grammar of the archc language (data package)."""
