"""Jinja templates of the archc emitters (data package)."""
