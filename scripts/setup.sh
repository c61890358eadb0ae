#!/usr/bin/env bash
# Set up archc from nothing: a virtual environment in .venv with archc and its test tools.
# torch is pinned to 2.13.0 (the CPU build); it is only used by the tests and benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."

# Graphviz draws `archc graph` diagrams; without it archc writes .dot files instead.
if ! command -v dot >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) \
      || echo "setup: could not install graphviz; archc graph will write .dot files" >&2
  else
    echo "setup: graphviz (dot) not found; install it to render archc graph diagrams" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
echo "setup: archc $(.venv/bin/archc --version | cut -d' ' -f2) ready in .venv" >&2
