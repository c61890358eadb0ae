"""The `archc` command line: the only module that ties every stage together.

Heavy imports (black, jinja2, lxml) happen inside the command that needs them,
so `archc lint` never pays for the emitter; torch is never imported.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .core.diagnostics import Diagnostic, render, summary_line
from .core.outputs import OutputError
from .core.values import Value
from .driver import Result, for_emit, length_report, parse_sets, run_path
from .frontends.files import Options, UsageError

EXIT_OK, EXIT_DIAGNOSTICS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 70


def _color(stream: object) -> bool:
    if "NO_COLOR" in os.environ:
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def _print_diagnostics(diags: Sequence[Diagnostic], stream: object) -> None:
    color = _color(stream)
    for diag in diags:
        print(render(diag, color) + "\n", file=stream)  # type: ignore[call-overload]


def _options(args: argparse.Namespace) -> Options:
    return Options(getattr(args, "class_", None), getattr(args, "layout", None), keep_sizes=True)


def _check(path: str, args: argparse.Namespace, sets: dict[str, list[Value]]) -> Result:
    _, result = run_path(path, sets, args.arch, _options(args))
    return result


def _output_name(
    stem: str, arch: str, multi_arch: bool, combo: tuple[tuple[str, Value], ...], varying: set[str]
) -> str:
    name = stem
    if multi_arch:
        name += f"_{arch}"
    for key, value in combo:
        if key in varying:
            text = str(value).lower() if not isinstance(value, str) else value
            name += f"_{key}{re.sub(r'[^A-Za-z0-9]+', 'p', text)}"
    return name


def _fail(problems: Sequence[Diagnostic], what: str = "nothing was written") -> int:
    _print_diagnostics(problems, sys.stderr)
    print(f"archc: {summary_line(problems)}; {what}", file=sys.stderr)
    return EXIT_DIAGNOSTICS


def _checked_variants(
    args: argparse.Namespace,
) -> tuple[list[tuple[str, Result]], list[Diagnostic]]:
    sets = parse_sets(args.set or [])
    results = []
    problems: list[Diagnostic] = []
    for path in args.files:
        result = _check(path, args, sets)
        problems.extend(result.diagnostics)
        results.append((path, result))
    return results, problems


# ------------------------------------------------------------------ commands


def cmd_compile(args: argparse.Namespace) -> int:
    sets = parse_sets(args.set or [])
    varying = {name for name, values in sets.items() if len(values) > 1}
    results, problems = _checked_variants(args)
    if any(d.is_error for d in problems) or not all(r.ok for _, r in results):
        return _fail(problems)
    from .backends.emit_torch import EmitError, EmitOptions, emit

    options = EmitOptions(args.memory_format, args.fold_batchnorm, args.concrete)
    files: dict[Path, str] = {}
    for path, result in results:
        stem = Path(path).stem
        names = {v.arch_name for v in result.variants}
        if args.class_name and len(names) > 1:
            raise UsageError(
                f"{path} has several architectures; pick one with --arch to use --class-name"
            )
        for variant in result.variants:
            assert variant.checked is not None
            out_name = _output_name(
                stem, variant.arch_name, len(names) > 1, variant.overrides, varying
            )
            class_name = args.class_name or "TorchModel"
            module_path = Path(args.output) / f"{out_name}.py"
            if module_path in files:
                raise UsageError(f"two outputs would both be written to {module_path}")
            try:
                files[module_path] = emit(for_emit(result, variant), Path(path).name, class_name, options)
            except EmitError as err:
                raise UsageError(f"{path}: {err}") from None
            if args.emit == "seqgra":
                from .backends.emit_seqgra import emit_xml

                files[module_path.with_suffix(".xml")] = emit_xml(
                    variant.checked, module_path.name, class_name
                )
    from .core.outputs import write_all

    write_all(files)
    for target in files:
        print(f"wrote {target}")
    warnings = [d for d in problems if not d.is_error]
    if warnings:
        if args.verbose:
            _print_diagnostics(warnings, sys.stderr)
        else:
            print(f"archc: {summary_line(warnings)} (see them with `archc lint`)", file=sys.stderr)
    return EXIT_OK


def cmd_lint(args: argparse.Namespace) -> int:
    results, everything = _checked_variants(args)
    reports: list[str] = []
    if args.lengths:
        for _, result in results:
            if result.ok:
                reports.extend(length_report(result))
    if args.format == "json":
        json.dump([d.to_json() for d in everything], sys.stdout, indent=2)
        print()
    elif args.format == "sarif":
        from .backends.sarif import render_sarif

        sys.stdout.write(render_sarif(everything, __version__, Path.cwd()))
    else:
        _print_diagnostics(everything, sys.stdout)
        for line in reports:
            print(line)
        count = len(args.files)
        print(f"{summary_line(everything)} in {count} file{'s' if count != 1 else ''}")
    failing = any(d.is_error for d in everything) or (args.strict and bool(everything))
    return EXIT_DIAGNOSTICS if failing else EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from .driver import check_tree
    from .frontends.load import load
    from .syntax.unparse import unparse

    all_sets = parse_sets(args.set or [])
    if any(len(v) > 1 for v in all_sets.values()):
        raise UsageError("give one value per --set when importing")
    sets = {k: v[0] for k, v in all_sets.items()}
    loaded = load(args.file, Options(args.class_, args.layout, sets))
    if loaded.tree is None or any(d.is_error for d in loaded.diagnostics):
        return _fail(loaded.diagnostics)
    # The imported architecture must itself check; its problems point into the input file.
    checked_sets = {k: v for k, v in all_sets.items() if k not in loaded.consumed}
    result = check_tree(loaded.source, loaded.tree, checked_sets, None, loaded.reporter)
    if not result.ok:
        return _fail(result.diagnostics)
    text = unparse(loaded.tree, loaded.header)
    if args.output and args.output != "-":
        from .core.outputs import write_all

        write_all({Path(args.output): text})
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    warnings = [d for d in result.diagnostics if not d.is_error]
    if warnings:
        _print_diagnostics(warnings, sys.stderr)
    return EXIT_OK


def _single_checked(args: argparse.Namespace) -> tuple[Result | None, list[Diagnostic]]:
    sets = parse_sets(args.set or [])
    if any(len(v) > 1 for v in sets.values()):
        raise UsageError("give one value per --set here")
    result = _check(args.file, args, sets)
    return (result if result.ok else None), result.diagnostics


def cmd_summary(args: argparse.Namespace) -> int:
    from .backends.summary import render_summaries

    result, problems = _single_checked(args)
    if result is None:
        return _fail(problems, "no summary")
    archs = [v.checked for v in result.variants if v.checked is not None]
    # One document whatever the number of architectures (a JSON list for several).
    sys.stdout.write(render_summaries(archs, args.format))
    return EXIT_OK


def cmd_graph(args: argparse.Namespace) -> int:
    from .backends.graph import write_graph

    result, problems = _single_checked(args)
    if result is None:
        return _fail(problems, "no graph")
    if len(result.variants) != 1:
        raise UsageError("the file has several architectures; pick one with --arch")
    checked = result.variants[0].checked
    assert checked is not None
    output = args.output or f"{Path(args.file).stem}.svg"
    for line in write_graph(checked, Path(output), args.depth):
        print(line, file=sys.stderr)
    return EXIT_OK


def cmd_lsp(args: argparse.Namespace) -> int:
    if args.hover is not None:
        from .lsp.analysis import hover_at_path

        found = hover_at_path(args.hover)
        if isinstance(found, list):
            return _fail(found, "nothing to show")
        if found is None:
            print(f"archc: nothing to show at {args.hover} (not on a checked step)", file=sys.stderr)
            return EXIT_DIAGNOSTICS
        print(found)
        return EXIT_OK
    try:
        import pygls  # noqa: F401  (only whether it is installed)
    except ImportError:
        print("archc: error: `archc lsp` needs pygls: pip install 'archc[lsp]'", file=sys.stderr)
        return EXIT_USAGE
    from .lsp.server import serve

    serve()
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from .core import explain

    if args.list or args.code is None:
        print(explain.listing())
        return EXIT_OK
    found = explain.lookup(args.code)
    if found is None:
        guess = explain.suggestion(args.code)
        hint = f"; did you mean `{guess}`?" if guess else ""
        print(f"archc: error: no diagnostic code `{args.code}`{hint}", file=sys.stderr)
        print("codes: " + ", ".join(explain.EXPLANATIONS), file=sys.stderr)
        return EXIT_USAGE
    print(found[1])
    return EXIT_OK


def _fmt_inputs(names: Sequence[str]) -> list[str]:
    """The files `archc fmt` was given: `-`, files, and every *.arch below a directory, sorted."""
    found: list[str] = []
    for name in names:
        path = Path(name)
        if path.is_file() and path.suffix in (".xml", ".py"):  # the importers' inputs, never .arch text
            raise UsageError(f"{name}: archc fmt formats .arch files (archc import turns this one into one)")
        if name == "-" or path.is_file():
            found.append(name)
        elif path.is_dir():
            found.extend(sorted(str(p) for p in path.rglob("*.arch") if p.is_file()))
        else:
            raise UsageError(f"{name}: no such file or directory")
    return found


def cmd_fmt(args: argparse.Namespace) -> int:
    import difflib

    from .core.outputs import write_all
    from .syntax.fmt import FormatError, format_source

    failed = changed = 0
    for name in _fmt_inputs(args.files):
        label = "<stdin>" if name == "-" else name
        try:
            raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            print(f"{label}:1:1: error: not UTF-8 text (byte {err.start})", file=sys.stderr)
            failed += 1
            continue
        except OSError as err:
            print(f"archc: error: cannot read {label}: {err.strerror}", file=sys.stderr)
            failed += 1
            continue
        try:
            out = format_source(text, label)
        except FormatError as err:
            _print_diagnostics(err.diagnostics, sys.stderr)
            if not err.diagnostics:
                print(f"archc: error: {err}", file=sys.stderr)
            failed += 1
            continue
        if out == text:
            if name == "-" and not (args.check or args.diff):
                sys.stdout.write(out)
            continue
        changed += 1
        if args.diff:
            for line in difflib.unified_diff(
                text.splitlines(keepends=True), out.splitlines(keepends=True), label, label
            ):
                # as diff(1) marks it: a last line without its newline
                sys.stdout.write(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
        if args.check:
            print(f"would reformat {label}", file=sys.stderr)
        if args.check or args.diff:
            continue
        if name == "-":
            sys.stdout.write(out)
        else:
            # The file a link points to is rewritten (not the link), and keeps its mode.
            target = Path(name).resolve()
            mode = stat.S_IMODE(target.stat().st_mode)
            write_all({target: out})
            os.chmod(target, mode)
            print(f"reformatted {label}", file=sys.stderr)
    if failed:
        print(f"archc: {failed} file{'s' if failed != 1 else ''} could not be formatted", file=sys.stderr)
    if failed or (changed and (args.check or args.diff)):
        return EXIT_DIAGNOSTICS
    return EXIT_OK


# ------------------------------------------------------------------ parser


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"archc: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="archc",
        description="Compile genomics model architectures (.arch, seqgra .xml, PyTorch .py) "
        "to shape-checked PyTorch modules.",
    )
    parser.add_argument("--version", action="version", version=f"archc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def inputs(p: argparse.ArgumentParser, many: bool = True) -> None:
        if many:
            p.add_argument(
                "files", nargs="+", metavar="FILE", help=".arch, seqgra .xml or PyTorch .py"
            )
        else:
            p.add_argument("file", metavar="FILE", help=".arch, seqgra .xml or PyTorch .py")
        p.add_argument(
            "--set",
            action="append",
            metavar="NAME=VALUE[,VALUE...]",
            help="set an architecture parameter (several values: one output each)",
        )
        p.add_argument("--arch", help="only this architecture of the file")
        p.add_argument(
            "--class", dest="class_", metavar="NAME", help="the module class to lift from a .py"
        )
        p.add_argument(
            "--layout", choices=("1D", "2D"), help="input layout of a lifted .py (seqgra encoding)"
        )

    p = sub.add_parser("compile", help="compile to PyTorch modules in a directory")
    inputs(p)
    p.add_argument("-o", "--output", default="generated", metavar="DIR", help="output directory")
    p.add_argument("--class-name", help="name of the generated class (default TorchModel)")
    p.add_argument(
        "--emit",
        choices=("torch", "seqgra"),
        default="torch",
        help="seqgra: also write a seqgra model-definition XML beside each module",
    )
    p.add_argument(
        "--memory-format",
        choices=("contiguous", "channels_last"),
        default="contiguous",
        help="channels_last: the module converts its input and runs its convolutions channels-last",
    )
    p.add_argument(
        "--fold-batchnorm",
        action="store_true",
        help="add fold_batchnorm(): folds eval-mode batchnorm into the layer before it, for inference",
    )
    p.add_argument(
        "--concrete",
        action="store_true",
        help="literal sizes for the parameter values given, and a constructor without arguments",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show warnings in full")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("lint", help="check for shape mistakes; writes nothing")
    inputs(p)
    p.add_argument("--strict", action="store_true", help="warnings fail too")
    p.add_argument(
        "--format", choices=("text", "json", "sarif"), default="text", help="sarif: SARIF 2.1.0"
    )
    p.add_argument("--lengths", action="store_true", help="report which input lengths work")
    p.set_defaults(func=cmd_lint)

    p = sub.add_parser("import", help="turn a seqgra .xml or a PyTorch .py into an .arch file")
    p.add_argument("file", metavar="FILE")
    p.add_argument(
        "-o", "--output", metavar="OUT.arch", help="output file (default: standard output)"
    )
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="e.g. length=1000")
    p.add_argument("--class", dest="class_", metavar="NAME", help="the module class to lift")
    p.add_argument("--layout", choices=("1D", "2D"), help="input layout when the file does not say")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("summary", help="per-layer table: shapes, parameters, MACs, receptive field")
    inputs(p, many=False)
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("graph", help="diagram of the architecture with shapes (Graphviz)")
    inputs(p, many=False)
    p.add_argument("-o", "--output", metavar="OUT.svg|OUT.dot|OUT.png")
    p.add_argument("--depth", type=int, default=None, help="collapse blocks nested deeper than N")
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser("fmt", help="rewrite .arch files in the canonical layout, comments kept")
    p.add_argument("files", nargs="+", metavar="FILE|DIR", help=".arch files, directories, or - (stdin)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file would change")
    p.add_argument("--diff", action="store_true", help="write nothing; print a unified diff of the changes")
    p.set_defaults(func=cmd_fmt)

    p = sub.add_parser("explain", help="explain a diagnostic code (no code: list them all)")
    p.add_argument("code", nargs="?", metavar="CODE", help="e.g. merge-mismatch")
    p.add_argument("--list", action="store_true", help="list every code with its summary")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("lsp", help="run the language server over stdio (for editors)")
    p.add_argument(
        "--hover",
        metavar="FILE.arch:LINE:COL",
        help="print what the server shows on hover at that position, and exit",
    )
    p.set_defaults(func=cmd_lsp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # The passes recurse once per nesting level; the resolver refuses models nested
    # deeper than expansion.MAX_NESTING, which this limit leaves ample room for.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    parser = build_parser()
    args = parser.parse_args(argv)
    class_name = getattr(args, "class_name", None)
    if class_name is not None:
        from .core.pysafe import class_name_problem, suggest_name

        problem = class_name_problem(class_name)
        if problem is not None:
            print(
                f"archc: error: --class-name {class_name!r} cannot name the module class: {problem}\n"
                f"help: for example --class-name {suggest_name(class_name)}",
                file=sys.stderr,
            )
            return EXIT_USAGE
    try:
        code: int = args.func(args)
    except (UsageError, OutputError) as err:
        print(f"archc: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except Exception as err:
        if os.environ.get("ARCHC_DEBUG"):
            raise
        print(
            f"archc: internal error: {type(err).__name__}: {err}\n"
            "This is a bug in archc; run with ARCHC_DEBUG=1 for the traceback and please report it.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return code


if __name__ == "__main__":
    sys.exit(main())
