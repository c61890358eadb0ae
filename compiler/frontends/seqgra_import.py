"""Read seqgra model definitions (XML) into an .arch syntax tree.

Safety: the document is size-capped and scanned before lxml sees it; any DOCTYPE or
other markup declaration is refused, so no entity can expand or reach a file. The
parser never loads a DTD or touches the network, and nesting is capped. Nothing in
the document is evaluated: attribute values go through small parsers of our own.

Every span points into the XML, so later diagnostics (shape errors included) show
the user's own line.

Metadata is kept losslessly in `meta { ... }`: text fields are strings exactly as
written; hyperparameter values, `seed` and the label pattern's bounds become typed
values only when the text is the canonical spelling of that value (`100` -> 100,
`0.001` -> 0.001, `True` -> true), so writing them back gives the identical text.
Anything else (`1e-4`, ` 5`, `yes`) stays a string.
"""

from __future__ import annotations

import dataclasses
import importlib
import keyword
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from lxml import etree

from ..core.diagnostics import Diagnostic, Reporter, did_you_mean
from ..core.seqgra_vocab import ALPHABETS, TASKS
from ..core.source import Source, Span
from ..syntax import tree as s
from ..syntax.parser import KEYWORDS
from .files import Loaded, Options, read_source

MAX_BYTES = 500_000  # seqgra model definitions are a few kB (under the input cap of frontends)
MAX_DEPTH = 12  # the deepest seqgra element is seqgramodel/general/labels/label (4)
MAX_VALUE = 200  # characters in one operation attribute
MAX_MODULE_BYTES = 524_288  # a PyTorch module named by <external> (the input cap of frontends)
XSI = "http://www.w3.org/2001/XMLSchema-instance"

ELEMENT = Any  # an lxml element (lxml's own types are private)

_ROOT = (
    ("general", 1, 1),
    ("architecture", 1, 1),
    ("loss", 0, 1),
    ("optimizer", 0, 1),
    ("trainingprocess", 0, 1),
)
_GENERAL = (
    ("name", 1, 1),
    ("description", 1, 1),
    ("task", 1, 1),
    ("sequencespace", 1, 1),
    ("library", 1, 1),
    ("implementation", 0, 1),
    ("inputencoding", 0, 1),
    ("labels", 1, 1),
    ("seed", 1, 1),
)
_ARCHITECTURE = (("sequential", 0, 1), ("hyperparameters", 0, 1), ("external", 0, 1))
_HYPER_GROUPS = ("loss", "optimizer", "trainingprocess")

LIBRARIES = ("PyTorch", "TensorFlow", "BayesOptimalClassifier")

# Keras operations seqgra embeds, by seqgra's own (case-insensitive) name, with the
# attributes archc translates.
_COMMON = frozenset({"input_shape"})
_CONV = frozenset({"filters", "kernel_size", "strides", "padding", "dilation_rate", "activation", "use_bias"})
OPERATIONS: dict[str, tuple[str, frozenset[str]]] = {
    "conv1d": ("Conv1D", _CONV | _COMMON),
    "conv2d": ("Conv2D", _CONV | _COMMON),
    "dense": ("Dense", frozenset({"units", "activation", "use_bias"}) | _COMMON),
    "flatten": ("Flatten", _COMMON),
    "reshape": ("Reshape", frozenset({"target_shape"}) | _COMMON),
    "lstm": (
        "LSTM",
        frozenset({"units", "return_sequences", "activation", "recurrent_activation", "use_bias"}) | _COMMON,
    ),
    "globalmaxpool1d": ("GlobalMaxPool1D", _COMMON),
    "maxpool1d": ("MaxPool1D", frozenset({"pool_size", "strides", "padding"}) | _COMMON),
    "dropout": ("Dropout", frozenset({"rate"}) | _COMMON),
    "batchnormalization": (
        "BatchNormalization",
        frozenset({"momentum", "epsilon", "axis"}) | _COMMON,
    ),
}
# Keras attributes seqgra knows that describe training or weights, not the architecture.
_REFUSED = frozenset(
    {
        "kernel_initializer",
        "bias_initializer",
        "recurrent_initializer",
        "kernel_regularizer",
        "bias_regularizer",
        "recurrent_regularizer",
        "activity_regularizer",
        "trainable",
        "weights_file",
        "unit_forget_bias",
        "data_format",
        "dropout",
        "recurrent_dropout",
        "implementation",
        "return_state",
        "go_backwards",
        "stateful",
        "time_major",
        "unroll",
        "bidirectional",
        "merge_mode",
    }
)
ACTIVATIONS = ("relu", "sigmoid", "tanh", "softmax", "linear")
_TRUE = ("y", "yes", "t", "true", "on", "1")  # Python's strtobool, which seqgra uses
_FALSE = ("n", "no", "f", "false", "off", "0")
# Losses that apply the output activation themselves once the model returns logits.
_SOFTMAX_LOSSES = ("categoricalcrossentropy", "sparsecategoricalcrossentropy", "crossentropyloss")
_SIGMOID_LOSSES = ("binarycrossentropy", "bcewithlogitsloss")

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_LONG = re.compile(r"\s*[+-]?[0-9]+\s*")  # xs:long's lexical space
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ID = re.compile(r"[A-Za-z0-9_-]+")


class _Stop(Exception):
    """Reading cannot go on; the reason is already reported."""


class _Bad(Exception):
    """One operation or field is unusable; the reason is already reported."""


@dataclass(frozen=True)
class _Tag:
    """Where an element's start tag stands in the text."""

    start: int
    end: int
    text: str


# ---------------------------------------------------------------------- typed values


def typed(text: str, span: Span) -> s.Expr:
    """A metadata value: typed when the text is its value's canonical spelling, else a string."""
    # (The length cap keeps clear of Python's limit on converting long digit strings.)
    if len(text) <= 40 and _INT.fullmatch(text) and str(int(text)) == text:
        return s.Int(int(text), span)
    if text in ("True", "False"):
        return s.Bool(text == "True", span)
    if _FLOAT.fullmatch(text):
        value = float(text)
        if math.isfinite(value) and repr(value) == text:
            return s.Float(value, span)
    return s.Str(text, span)


def _long(text: str, span: Span) -> s.Expr | None:
    """An xs:long field: an integer when canonical, the exact text otherwise, None if invalid."""
    if len(text) > 100 or not _LONG.fullmatch(text) or len(text.strip().lstrip("+-")) > 19:
        return None  # xs:long holds at most 19 digits
    value = int(text.strip())
    return s.Int(value, span) if str(value) == text else s.Str(text, span)


def identifier(model_id: str) -> str:
    """A valid architecture name made from a seqgra model id."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", model_id) or "model"
    if name[0].isdigit():
        name = "m_" + name
    if name in KEYWORDS or keyword.iskeyword(name):
        name += "_"
    return name


def _scan(text: str) -> tuple[list[_Tag], list[int]]:
    """Start tags in document order, and the offsets of markup declarations (`<!DOCTYPE`...).

    Comments, CDATA sections and processing instructions are skipped, so a
    declaration-like text inside them is not mistaken for one.
    """
    tags: list[_Tag] = []
    declarations: list[int] = []
    i, n = 0, len(text)
    while True:
        j = text.find("<", i)
        if j < 0:
            break
        for opener, closer in (("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>")):
            if text.startswith(opener, j):
                k = text.find(closer, j + len(opener))
                i = n if k < 0 else k + len(closer)
                break
        else:
            if text.startswith("<!", j):
                declarations.append(j)
                k = text.find(">", j)
                i = n if k < 0 else k + 1
            elif text.startswith("</", j):
                k = text.find(">", j)
                i = n if k < 0 else k + 1
            else:
                k, quote = j + 1, ""
                while k < n:
                    ch = text[k]
                    if quote:
                        if ch == quote:
                            quote = ""
                    elif ch in "\"'":
                        quote = ch
                    elif ch == ">":
                        break
                    k += 1
                tags.append(_Tag(j, min(k + 1, n), text[j : k + 1]))
                i = k + 1
        if i >= n:
            break
    return tags, declarations


def _local(tag: str) -> str:
    """An lxml tag or attribute name as written: `{ns}name` shows as `ns:name`."""
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return f"{'xsi' if ns == XSI else ns}:{name}"
    return tag


# ---------------------------------------------------------------------- the reader


class _Reader:
    """Reads one document; collects every problem it can before giving up."""

    def __init__(self, source: Source, options: Options) -> None:
        self.src = source
        self.opts = options
        self.rep = Reporter(source)
        self.tags: dict[ELEMENT, _Tag] = {}
        self.header: list[str] = []
        self.root: ELEMENT = None

    # ------------------------------------------------------------ spans

    def span(self, el: ELEMENT) -> Span:
        tag = self.tags.get(el)
        if tag is None:
            line = getattr(el, "sourceline", None) or 1
            start = self.src.offset(line, 1)
            return Span(start, start + len(self.src.line_text(line)))
        return Span(tag.start, tag.end)

    def attr_span(self, el: ELEMENT, name: str, whole: bool = False) -> Span:
        """The span of an attribute's value (or of all of `name="value"` when `whole`)."""
        tag = self.tags.get(el)
        if tag is None:
            return self.span(el)
        local = name.rpartition("}")[2]
        pattern = r"(?<![\w:.-])(?:[\w.-]+:)?" + re.escape(local) + r"\s*=\s*(?:\"([^\"]*)\"|'([^']*)')"
        m = re.search(pattern, tag.text)
        if m is None:
            return self.span(el)
        group = 1 if m.group(1) is not None else 2
        if m.end(group) > m.start(group) and not whole:
            return Span(tag.start + m.start(group), tag.start + m.end(group))
        return Span(tag.start + m.start(), tag.start + m.end())

    def text_span(self, el: ELEMENT) -> Span:
        tag = self.tags.get(el)
        if tag is None or tag.text.endswith("/>"):
            return self.span(el)
        end = self.src.text.find("<", tag.end)
        end = len(self.src.text) if end < 0 else end
        body = self.src.text[tag.end : end]
        stripped = body.strip()
        if not stripped:
            return self.span(el)
        start = tag.end + body.index(stripped)
        return Span(start, start + len(stripped))

    # ------------------------------------------------------------ reporting

    def error(self, code: str, message: str, span: Span, **kw: Any) -> None:
        self.rep.error(code, message, span, **kw)

    def warning(self, code: str, message: str, span: Span, **kw: Any) -> None:
        self.rep.warning(code, message, span, **kw)

    # ------------------------------------------------------------ reading the document

    def parse(self) -> ELEMENT:
        text = self.src.text
        if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
            self.error(
                "xml-too-large",
                f"the file is {len(text.encode('utf-8', errors='replace')):,} bytes; archc reads "
                f"seqgra model definitions of at most {MAX_BYTES:,} bytes",
                Span(0, min(1, len(text))),
                help="a model definition is a few kilobytes; is this the right file?",
            )
            raise _Stop
        tags, declarations = _scan(text)
        if declarations:
            at = declarations[0]
            word = re.match(r"<!([A-Za-z]*)", text[at:])
            kind = word.group(1) if word and word.group(1) else "markup"
            self.error(
                "xml-unsafe",
                f"the document contains a <!{kind}> declaration; archc refuses DTDs and entity "
                "declarations in model definitions",
                Span(at, at + 2 + len(kind)),
                label="declarations are not allowed",
                help="seqgra model definitions need no DOCTYPE; remove it "
                "(entities could expand without bound or read local files)",
            )
            raise _Stop
        declared = re.match(r"\ufeff?<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']", text)
        if declared and declared.group(1).lower().replace("-", "").replace("_", "") != "utf8":
            if not text.isascii():
                self.error(
                    "encoding",
                    f"the document declares encoding {declared.group(1)}, but archc reads "
                    "model definitions as UTF-8",
                    Span(declared.start(1), declared.end(1)),
                    help='save the file as UTF-8 and declare encoding="UTF-8"',
                )
                raise _Stop
            # Pure ASCII reads the same in any ASCII-compatible encoding.
            text = text[: declared.start(1)] + "UTF-8" + text[declared.end(1) :]
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=False,
            remove_pis=False,
        )
        try:
            root = etree.fromstring(text.encode("utf-8"), parser)
        except etree.XMLSyntaxError as err:
            self.syntax_error(err)
            raise _Stop from None
        elements = [el for el in root.iter() if isinstance(el.tag, str)]
        if len(elements) == len(tags):
            self.tags = dict(zip(elements, tags, strict=True))
        self.root = root
        self.check_depth(root)
        return root

    def syntax_error(self, err: Any) -> None:
        message = re.sub(r", line \d+, column \d+$", "", str(err.msg or err)).strip()
        line, col = err.position if err.position else (1, 1)
        line = max(1, min(line, self.src.text.count("\n") + 1))
        # libxml2 counts columns in bytes; convert to characters for the caret.
        raw = self.src.line_text(line).encode("utf-8")
        col = len(raw[: max(col - 1, 0)].decode("utf-8", errors="ignore")) + 1
        start = self.src.offset(line, col)
        if "Excessive depth" in message:
            self.error(
                "xml-too-deep",
                f"the document nests elements more than {MAX_DEPTH} deep",
                Span(start, start + 1),
                help="seqgra model definitions nest 4 elements deep at most",
            )
            return
        self.error(
            "xml-syntax",
            f"malformed XML: {message[:1].lower()}{message[1:]}",
            Span(start, start + 1),
            help="fix the XML; archc reads well-formed seqgra model definitions only",
        )

    def check_depth(self, root: ELEMENT) -> None:
        stack: list[tuple[ELEMENT, int]] = [(root, 1)]
        while stack:
            el, depth = stack.pop()
            if depth > MAX_DEPTH:
                self.error(
                    "xml-too-deep",
                    f"the document nests elements more than {MAX_DEPTH} deep",
                    self.span(el),
                    help="seqgra model definitions nest 4 elements deep at most",
                )
                raise _Stop
            stack.extend((child, depth + 1) for child in el if isinstance(child.tag, str))

    # ------------------------------------------------------------ structure

    def children(self, el: ELEMENT, spec: Sequence[tuple[str, int, int | None]]) -> dict[str, list[ELEMENT]]:
        """Child elements by name, checked against an ordered spec of (name, min, max)."""
        names = [name for name, _, _ in spec]
        found: dict[str, list[ELEMENT]] = {name: [] for name in names}
        parent = _local(el.tag)
        self.no_text(el)
        furthest = -1
        furthest_el: ELEMENT = None
        for child in el:
            if not isinstance(child.tag, str):
                continue
            tag = child.tag
            if tag not in found:
                suggestion = did_you_mean(_local(tag), names)
                self.error(
                    "unknown-element",
                    f"unknown element `<{_local(tag)}>` in `<{parent}>`",
                    self.span(child),
                    label="seqgra does not define this element here",
                    help=f"did you mean `<{suggestion}>`?"
                    if suggestion
                    else f"`<{parent}>` holds " + ", ".join(f"<{n}>" for n in names),
                )
                continue
            index = names.index(tag)
            found[tag].append(child)
            limit = spec[index][2]
            if limit is not None and len(found[tag]) > limit:
                self.error(
                    "duplicate-element",
                    f"`<{tag}>` appears more than once in `<{parent}>`",
                    self.span(child),
                    help=f"keep one `<{tag}>`",
                )
            elif index < furthest:
                self.error(
                    "element-order",
                    f"`<{tag}>` must come before `<{_local(furthest_el.tag)}>` in `<{parent}>`",
                    self.span(child),
                    help="seqgra's schema fixes the order: " + ", ".join(f"<{n}>" for n in names),
                )
            if index > furthest:
                furthest, furthest_el = index, child
        for name, low, _ in spec:
            if len(found[name]) < low:
                previous = [n for n in names[: names.index(name)] if found[n]]
                where = f" after `<{previous[-1]}>`" if previous else ""
                self.error(
                    "missing-element",
                    f"`<{parent}>` has no `<{name}>`",
                    self.span(el),
                    label=f"`<{name}>` is required here",
                    help=f"add `<{name}>...</{name}>`{where}",
                )
        return found

    def no_text(self, el: ELEMENT) -> None:
        """Container elements hold elements only, not text."""
        pieces = [(el.text, el)] + [(child.tail, child) for child in el]
        for text, _ in pieces:
            if text and text.strip():
                span = self.text_span(el) if text is el.text else self.span(el)
                self.error(
                    "unexpected-text",
                    f"`<{_local(el.tag)}>` holds elements, not text ({text.strip()[:40]!r})",
                    span,
                )
                return

    def attrs(self, el: ELEMENT, allowed: Sequence[str], required: Sequence[str] = ()) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in el.attrib.items():
            if el is self.root and key.startswith(f"{{{XSI}}}"):
                continue  # xsi:noNamespaceSchemaLocation and friends
            if key in allowed:
                out[key] = value
                continue
            if key in _REFUSED and _local(el.tag) == "operation":
                continue  # reported by the operation, which knows why
            suggestion = did_you_mean(_local(key), list(allowed))
            self.error(
                "unknown-attribute",
                f"unknown attribute `{_local(key)}` on `<{_local(el.tag)}>`",
                self.attr_span(el, key, whole=True),
                label="not a seqgra attribute here",
                help=f"did you mean `{suggestion}`?"
                if suggestion
                else (
                    "allowed: " + ", ".join(allowed)
                    if allowed
                    else f"`<{_local(el.tag)}>` takes no attributes"
                ),
            )
        for key in required:
            if key not in el.attrib:
                self.error(
                    "missing-attribute",
                    f"`<{_local(el.tag)}>` needs the attribute `{key}`",
                    self.span(el),
                    help=f'add {key}="..."',
                )
        return out

    def text(self, el: ELEMENT) -> str:
        """The text of a leaf element that takes no attributes."""
        self.attrs(el, ())
        return self.text_no_attrs(el)

    # ------------------------------------------------------------ the model definition

    def run(self) -> Loaded:
        root = self.parse()
        if root.tag != "seqgramodel":
            self.error(
                "unknown-element",
                f"the root element is `<{_local(root.tag)}>`, not `<seqgramodel>`",
                self.span(root),
                help="is this a seqgra model definition? (data definitions are not models)",
            )
            raise _Stop
        self.attrs(root, ())
        parts = self.children(root, _ROOT)
        general = self.general(parts["general"][0]) if parts["general"] else None
        groups: list[s.MetaEntry] = []
        for group in _HYPER_GROUPS:
            if parts[group]:
                entry = self.hyperparameters(parts[group][0])
                if entry is not None:
                    groups.append(entry)
        if general is None or not parts["architecture"] or self.rep.has_errors:
            raise _Stop
        return self.architecture(parts["architecture"][0], general, groups)

    def general(self, el: ELEMENT) -> _General | None:
        attrs = self.attrs(el, ("id",), ("id",))
        parts = self.children(el, _GENERAL)
        if "id" not in attrs or any(not parts[n] for n, low, _ in _GENERAL if low):
            return None
        model_id = attrs["id"]
        id_span = self.attr_span(el, "id")
        if not _ID.fullmatch(model_id):
            self.error(
                "bad-value",
                f"model id {model_id!r} may only hold letters, digits, `_` and `-`",
                id_span,
            )
        entries: list[s.MetaEntry] = [s.MetaEntry("id", s.Str(model_id, id_span), id_span)]
        texts: dict[str, str] = {}
        spans: dict[str, Span] = {}
        for name in (
            "name",
            "description",
            "task",
            "sequencespace",
            "library",
            "implementation",
            "inputencoding",
        ):
            if not parts[name]:
                continue
            child = parts[name][0]
            value = self.text(child)
            texts[name], spans[name] = value, self.text_span(child)
            entries.append(s.MetaEntry(name, s.Str(value, spans[name]), self.span(child)))
        self.choice(texts["task"], TASKS, "task", spans["task"])
        self.choice(texts["sequencespace"], tuple(ALPHABETS), "sequence space", spans["sequencespace"])
        self.choice(texts["library"], LIBRARIES, "library", spans["library"])
        if "inputencoding" in texts:
            self.choice(texts["inputencoding"], ("1D", "2D"), "input encoding", spans["inputencoding"])
        labels_el = parts["labels"][0]
        labels = self.labels(labels_el)
        seed_el = parts["seed"][0]
        seed_text = self.text(seed_el)
        seed = _long(seed_text, self.text_span(seed_el))
        if seed is None:
            self.error(
                "bad-value",
                f"<seed> must be a whole number, got {seed_text!r}",
                self.text_span(seed_el),
            )
        if labels is None or seed is None:
            return None
        label_value, classes = labels
        entries.append(s.MetaEntry("labels", label_value, self.span(labels_el)))
        entries.append(s.MetaEntry("seed", seed, self.span(seed_el)))
        return _General(
            model_id=model_id,
            id_span=id_span,
            entries=entries,
            texts=texts,
            spans=spans,
            classes=classes,
            labels_span=self.span(labels_el),
        )

    def choice(self, value: str, allowed: Sequence[str], what: str, span: Span) -> None:
        if value not in allowed:
            suggestion = did_you_mean(value, list(allowed))
            self.error(
                "bad-value",
                f"unknown {what} {value!r}",
                span,
                help=f"did you mean {suggestion!r}?"
                if suggestion
                else "seqgra knows " + ", ".join(repr(a) for a in allowed),
            )

    def labels(self, el: ELEMENT) -> tuple[s.MetaValue, int] | None:
        self.attrs(el, ())
        self.no_text(el)
        kids = [c for c in el if isinstance(c.tag, str)]
        span = self.span(el)
        if kids and all(c.tag == "label" for c in kids):
            items: list[s.MetaValue] = []
            seen: dict[str, ELEMENT] = {}
            for child in kids:
                value = self.text(child)
                if value in seen:
                    self.error(
                        "duplicate-element",
                        f"label {value!r} is listed twice",
                        self.span(child),
                        help="each class needs its own label",
                    )
                seen[value] = child
                items.append(s.Str(value, self.text_span(child)))
            return s.MetaList(tuple(items), span), len(items)
        if len(kids) == 1 and kids[0].tag == "pattern":
            return self.pattern(kids[0])
        if not kids:
            self.error(
                "missing-element",
                "`<labels>` has no `<label>` or `<pattern>`",
                span,
                help="list the classes (`<label>c1</label>`...) or give "
                '`<pattern prefix="c" min="1" max="N"/>`',
            )
            return None
        for child in kids:
            if child.tag not in ("label", "pattern"):
                self.error(
                    "unknown-element",
                    f"unknown element `<{_local(child.tag)}>` in `<labels>`",
                    self.span(child),
                    help="`<labels>` holds `<label>` elements or one `<pattern>`",
                )
                return None
        self.error(
            "bad-value",
            "`<labels>` holds either `<label>` elements or a single `<pattern>`, not both",
            span,
        )
        return None

    def pattern(self, el: ELEMENT) -> tuple[s.MetaValue, int] | None:
        attrs = self.attrs(el, ("prefix", "postfix", "min", "max"), ("max",))
        if self.text_no_attrs(el).strip():
            self.error("unexpected-text", "`<pattern>` takes attributes only, not text", self.text_span(el))
        entries: list[s.MetaEntry] = []
        bounds: dict[str, int] = {"min": 1}
        for key in ("prefix", "postfix", "min", "max"):
            if key not in attrs:
                continue
            span = self.attr_span(el, key)
            value: s.Expr | None
            if key in ("min", "max"):
                value = _long(attrs[key], span)
                if value is None:
                    self.error(
                        "bad-value",
                        f"pattern {key} must be a whole number, got {attrs[key]!r}",
                        span,
                    )
                    continue
                bounds[key] = int(attrs[key].strip())
            else:
                value = s.Str(attrs[key], span)
            entries.append(s.MetaEntry(key, value, span))
        if "max" not in bounds:
            return None
        classes = bounds["max"] - bounds["min"] + 1
        if classes < 1:
            self.error(
                "bad-value",
                f"the label pattern runs from {bounds['min']} to {bounds['max']}: no classes",
                self.span(el),
                help="max must be at least min",
            )
            return None
        return s.MetaMap(tuple(entries), self.span(el)), classes

    def hyperparameters(self, el: ELEMENT) -> s.MetaEntry | None:
        """`<loss>`, `<optimizer>` or `<trainingprocess>` as a map from name to value."""
        self.attrs(el, ())
        found = self.children(el, (("hyperparameter", 0, None),))
        entries: list[s.MetaEntry] = []
        seen: dict[str, ELEMENT] = {}
        for child in found["hyperparameter"]:
            attrs = self.attrs(child, ("name",), ("name",))
            name = attrs.get("name")
            value = self.text_no_attrs(child)
            if name is None:
                continue
            span = self.attr_span(child, "name")
            if not _IDENT.fullmatch(name) or name in KEYWORDS:
                self.error(
                    "bad-value",
                    f"hyperparameter name {name!r} is not a plain identifier",
                    span,
                    help="archc keeps hyperparameters as `name = value` metadata; "
                    "use letters, digits and `_`",
                )
                continue
            if name in seen:
                self.error(
                    "duplicate-element",
                    f"hyperparameter `{name}` is given twice in `<{el.tag}>`",
                    span,
                    help="seqgra would keep only one of them; delete the other",
                )
                continue
            seen[name] = child
            entries.append(s.MetaEntry(name, typed(value, self.text_span(child)), self.span(child)))
        return s.MetaEntry(el.tag, s.MetaMap(tuple(entries), self.span(el)), self.span(el))

    def text_no_attrs(self, el: ELEMENT) -> str:
        """An element's text with comments skipped; child elements are errors."""
        parts = [el.text or ""]
        for child in el:
            if isinstance(child.tag, str):
                self.error(
                    "unknown-element",
                    f"unknown element `<{_local(child.tag)}>` in `<{_local(el.tag)}>`",
                    self.span(child),
                    help=f"`<{_local(el.tag)}>` holds text only",
                )
            parts.append(child.tail or "")
        return "".join(parts)

    # ------------------------------------------------------------ architecture

    def architecture(self, el: ELEMENT, general: _General, groups: list[s.MetaEntry]) -> Loaded:
        self.attrs(el, ())
        parts = self.children(el, _ARCHITECTURE)
        meta = general.entries + groups
        if parts["external"] and (parts["sequential"] or parts["hyperparameters"]):
            self.error(
                "bad-value",
                "`<architecture>` holds either `<external>` or `<sequential>`, not both",
                self.span(parts["external"][0]),
            )
            raise _Stop
        if parts["hyperparameters"]:
            self.error(
                "unsupported",
                "archc does not import architecture `<hyperparameters>`",
                self.span(parts["hyperparameters"][0]),
                help="seqgra passes them to external Keras models; they have no .arch form",
            )
            raise _Stop
        if parts["external"]:
            return self.external(parts["external"][0], general, meta)
        if not parts["sequential"]:
            self.error(
                "missing-element",
                "`<architecture>` is empty",
                self.span(el),
                help="give `<sequential>` with Keras operations or `<external>` with a PyTorch module",
            )
            raise _Stop
        return self.sequential(parts["sequential"][0], general, meta)

    def meta_stmt(self, entries: Sequence[s.MetaEntry], span: Span) -> s.MetaStmt:
        self.check_lossy(entries)
        return s.MetaStmt(s.MetaMap(tuple(entries), span), span)

    def check_lossy(self, entries: Sequence[s.MetaEntry]) -> None:
        """Warn about characters an .arch string literal cannot hold (they would become spaces)."""
        stack: list[s.MetaValue] = [e.value for e in entries]
        while stack:
            value = stack.pop()
            if isinstance(value, s.MetaMap):
                stack.extend(e.value for e in value.entries)
            elif isinstance(value, s.MetaList):
                stack.extend(value.items)
            elif isinstance(value, s.Str):
                odd = sorted({ch for ch in value.value if not ch.isprintable() and ch not in "\n\t"})
                if odd:
                    self.warning(
                        "metadata-lossy",
                        "this text holds "
                        + ", ".join(f"U+{ord(c):04X}" for c in odd)
                        + ", which an .arch string cannot hold; "
                        + "`archc import` writes a space instead",
                        value.span,
                    )

    # ------------------------------------------------------------ external modules

    def external(self, el: ELEMENT, general: _General, meta: list[s.MetaEntry]) -> Loaded:
        attrs = self.attrs(el, ("format", "classname"), ("format",))
        target = self.text_no_attrs(el).strip()
        if "format" not in attrs:
            raise _Stop
        fmt = attrs["format"]
        span = self.span(el)
        if fmt == "data-definition":
            self.error(
                "unsupported",
                "a Bayes optimal classifier holds no neural-network architecture archc can import",
                span,
                label="this points at a data definition, not a model",
                help="the BayesOptimalClassifier scores sequences with the data definition's "
                "motifs; there are no layers to compile",
            )
            raise _Stop
        if fmt.startswith("keras-"):
            self.error(
                "unsupported",
                f"a Keras model saved as {fmt!r} holds no architecture archc can import",
                span,
                label="archc does not read saved Keras models",
                help="write the layers inline in `<sequential>` to import them",
            )
            raise _Stop
        if fmt != "pytorch-module":
            self.error(
                "bad-value",
                f"unknown external format {fmt!r}",
                self.attr_span(el, "format"),
                help="seqgra knows pytorch-module, data-definition and the keras-* formats",
            )
            raise _Stop
        if not target:
            self.error(
                "missing-element",
                "`<external>` names no file",
                span,
                help="give the path of the .py file",
            )
            raise _Stop
        path = Path(target)
        if not path.is_absolute():
            path = Path(self.src.path).resolve().parent / path
        text_span = self.text_span(el)
        if path.suffix != ".py":
            self.error(
                "bad-value",
                f"a pytorch-module must be a .py file, not {target!r}",
                text_span,
            )
            raise _Stop
        if not path.is_file():
            self.error(
                "missing-file",
                f"the PyTorch module {target!r} does not exist (looked for {path})",
                text_span,
                label="no such file",
                help="put the module there, or fix the path (it is relative to the XML file's folder)",
            )
            raise _Stop
        if path.resolve().suffix != ".py" or path.stat().st_size > MAX_MODULE_BYTES:
            # A link named .py that leads elsewhere, or a file no model module could be.
            self.error(
                "bad-value",
                f"{target!r} is not a plausible PyTorch module (a link to a non-.py file, "
                f"or larger than {MAX_MODULE_BYTES:,} bytes)",
                text_span,
            )
            raise _Stop
        class_name = self.opts.class_name or attrs.get("classname")
        if not class_name:
            self.error(
                "missing-attribute",
                "`<external>` needs the attribute `classname` (the nn.Module subclass to import)",
                span,
                help='add classname="TorchModel", or pass --class NAME',
            )
            raise _Stop
        encoding = general.texts.get("inputencoding")
        if encoding and self.opts.layout and self.opts.layout != encoding:
            self.error(
                "bad-value",
                f"--layout {self.opts.layout} contradicts the definition's inputencoding {encoding}",
                general.spans["inputencoding"],
                help="seqgra feeds the module in the layout the definition declares; drop --layout",
            )
            raise _Stop
        layout = encoding or self.opts.layout or "1D"
        length = self.torch_length(general)
        return self.lift(path, class_name, layout, length, general, meta, el)

    def torch_length(self, general: _General) -> int | None:
        """The sequence length for a lifted module: --set length, else the id's `dna1000`."""
        given = self.opts.sets.get("length")
        if isinstance(given, int) and not isinstance(given, bool):
            return given
        found = re.search(r"(?:dna|rna|protein)([0-9]+)", general.model_id, re.IGNORECASE)
        if found:
            self.header.append(f"length {found.group(1)} is read from the model id {general.model_id!r}")
            return int(found.group(1))
        return None

    def lift(
        self,
        path: Path,
        class_name: str,
        layout: str,
        length: int | None,
        general: _General,
        meta: list[s.MetaEntry],
        el: ELEMENT,
    ) -> Loaded:
        read_py: Callable[[Source, Options], Loaded] | None
        try:
            module = importlib.import_module(".torch_import", __package__)
            read_py = getattr(module, "read_py", None)
        except ImportError:
            read_py = None
        if not callable(read_py):
            self.error(
                "not-available",
                "lifting PyTorch modules is not available in this archc",
                self.text_span(el),
                label=f"archc cannot read {path.name} yet",
                help="write the architecture as an .arch file instead",
            )
            raise _Stop
        got = read_source(str(path))
        if isinstance(got, Diagnostic):
            rep = Reporter(got.source)
            rep.items.append(got)
            return Loaded(got.source, None, rep)
        sets: dict[str, Any] = dict(self.opts.sets)
        if length is not None:
            sets["length"] = length
        loaded = read_py(got, Options(class_name, layout, sets))
        header = [
            f"Imported by archc from the seqgra model definition {Path(self.src.path).name}",
            f"(module {class_name} in {path.name}, input encoding {layout}).",
            *self.header,
            *loaded.header,
        ]
        tree = loaded.tree
        if tree is not None and tree.archs:
            archs = list(tree.archs)
            matching = [i for i, a in enumerate(archs) if a.name.lower() == class_name.lower()]
            index = matching[0] if matching else len(archs) - 1
            archs[index] = self.attach(archs[index], general, meta)
            tree = dataclasses.replace(tree, archs=tuple(archs))
        # Our own diagnostics (about the XML) travel with the module's.
        loaded.reporter.items[:0] = self.rep.items
        return Loaded(loaded.source, tree, loaded.reporter, header)

    def attach(self, arch: s.ArchDef, general: _General, meta: list[s.MetaEntry]) -> s.ArchDef:
        """The lifted architecture, renamed after the model id and carrying the metadata."""
        # The metadata's spans would point into the XML while the tree's point into the
        # .py file; anchor them on the architecture so a later message stays in range.
        anchor = arch.name_span

        def moved(value: s.MetaValue) -> s.MetaValue:
            if isinstance(value, s.MetaMap):
                return s.MetaMap(
                    tuple(s.MetaEntry(e.key, moved(e.value), anchor) for e in value.entries), anchor
                )
            if isinstance(value, s.MetaList):
                return s.MetaList(tuple(moved(v) for v in value.items), anchor)
            return dataclasses.replace(value, span=anchor)

        self.check_lossy(meta)
        mapping = s.MetaMap(tuple(s.MetaEntry(e.key, moved(e.value), anchor) for e in meta), anchor)
        body = tuple(st for st in arch.body if not isinstance(st, s.MetaStmt))
        classes = next((p for p in arch.params if p.name == "classes"), None)
        if (
            classes is not None
            and isinstance(classes.default, s.Int)
            and classes.default.value != general.classes
        ):
            self.warning(
                "label-count",
                f"the module outputs {classes.default.value} classes, but the definition's "
                f"labels name {general.classes}",
                general.labels_span,
                help="seqgra needs one output per label",
            )
        return dataclasses.replace(
            arch, name=identifier(general.model_id), body=(s.MetaStmt(mapping, anchor), *body)
        )

    # ------------------------------------------------------------ Keras layers

    def sequential(self, el: ELEMENT, general: _General, meta: list[s.MetaEntry]) -> Loaded:
        self.attrs(el, ())
        ops = self.children(el, (("operation", 0, None),))["operation"]
        if not ops:
            self.error("missing-element", "`<sequential>` has no `<operation>`", self.span(el))
            raise _Stop
        library = general.texts.get("library")
        if library != "TensorFlow":
            self.warning(
                "library",
                f"seqgra runs inline `<sequential>` models with TensorFlow only, not {library}",
                general.spans["library"],
                help="read as Keras layers anyway",
            )
        keras = _Keras(self, general, meta, ops)
        chains = keras.build()
        if self.rep.has_errors or keras.input_stmt is None:
            raise _Stop
        params = (
            s.Param("classes", s.Int(general.classes, general.labels_span), general.labels_span),
            s.Param("length", s.Int(keras.length, keras.length_span), keras.length_span),
            s.Param(
                "alphabet",
                s.Int(keras.alphabet, general.spans["sequencespace"]),
                general.spans["sequencespace"],
            ),
        )
        body: tuple[s.Stmt, ...] = (self.meta_stmt(meta, self.span(el)), keras.input_stmt, *chains)
        arch = s.ArchDef(identifier(general.model_id), params, body, self.span(self.root), general.id_span)
        header = [
            f"Imported by archc from the seqgra model definition {Path(self.src.path).name}",
            "(Keras layers, TensorFlow semantics kept: channels-last data is permuted",
            "around convolutions and pooling, so Flatten keeps Keras' (length, channels) order).",
            *keras.notes,
        ]
        return Loaded(self.src, s.File((arch,), ()), self.rep, header)


@dataclass
class _General:
    """What `<general>` says, ready for the architecture."""

    model_id: str
    id_span: Span
    entries: list[s.MetaEntry]
    texts: dict[str, str]
    spans: dict[str, Span]
    classes: int
    labels_span: Span


# ---------------------------------------------------------------------- Keras -> .arch


class _Keras:
    """Translates a Keras Sequential model, keeping track of the tensor layout.

    `rank` counts the axes after the batch; `first` tells whether channels sit right
    after the batch (PyTorch) rather than last (Keras). Convolutions, pooling and batch
    normalization need channels first; Dense, Flatten, Reshape and LSTM see Keras'
    order. Permutes are inserted only where the layout must change.
    """

    def __init__(
        self, reader: _Reader, general: _General, meta: Sequence[s.MetaEntry], ops: list[ELEMENT]
    ) -> None:
        self.r = reader
        self.general = general
        self.ops = ops
        self.rank = 0
        self.first = False
        self.counts: dict[str, int] = {}
        self.input_stmt: s.InputStmt | None = None
        self.length = 0
        self.length_span = Span(0, 0)
        self.alphabet = ALPHABETS.get(general.texts.get("sequencespace", ""), 4)
        self.notes: list[str] = []
        self.loss = _loss_key(meta)

    # ------------------------------------------------------------ helpers

    def name(self, prefix: str) -> str:
        self.counts[prefix] = self.counts.get(prefix, 0) + 1
        return f"{prefix}{self.counts[prefix]}"

    @staticmethod
    def call(kind: str, span: Span, *args: tuple[str | None, s.Expr]) -> s.Call:
        return s.Call(kind, tuple(s.Arg(name, value, value.span) for name, value in args), span, span)

    @staticmethod
    def step(term: s.Term, span: Span, name: str | None = None) -> s.Step:
        return s.Step(name, term, span, span if name else None)

    def layout(self, first: bool, span: Span, steps: list[s.Step]) -> None:
        """Move channels to where the next operation needs them."""
        if self.rank < 2:
            self.first = False  # (batch, features): nothing to move
            return
        if self.first == first:
            return
        if self.rank == 2:
            dims: tuple[int, ...] = (0, 2, 1)
        elif first:
            dims = (0, self.rank, *range(1, self.rank))
        else:
            dims = (0, *range(2, self.rank + 1), 1)
        steps.append(self.step(self.call("permute", span, *((None, s.Int(d, span)) for d in dims)), span))
        self.first = first

    # ------------------------------------------------------------ attribute values

    def value(self, el: ELEMENT, attrs: dict[str, str], key: str) -> tuple[str, Span] | None:
        if key not in attrs:
            return None
        text = attrs[key].strip()
        span = self.r.attr_span(el, key)
        if len(text) > MAX_VALUE:
            self.r.error("bad-value", f"`{key}` is {len(text)} characters long", span)
            raise _Bad
        return text, span

    def fail(self, key: str, text: str, want: str, span: Span) -> _Bad:
        self.r.error("bad-value", f"`{key}` must be {want}, got {text!r}", span)
        return _Bad()

    def integer(
        self, el: ELEMENT, attrs: dict[str, str], key: str, default: int | None = None, low: int = 1
    ) -> tuple[int, Span] | None:
        got = self.value(el, attrs, key)
        if got is None:
            if default is None:
                self.r.error(
                    "missing-attribute",
                    f"`{_op_name(el)}` needs the attribute `{key}`",
                    self.r.span(el),
                    help=f'add {key}="..."',
                )
                raise _Bad
            return None
        text, span = got
        if not _INT.fullmatch(text) or int(text) < low:
            raise self.fail(key, text, f"a whole number of at least {low}", span)
        return int(text), span

    def ints(
        self, el: ELEMENT, attrs: dict[str, str], key: str, n: int
    ) -> tuple[tuple[int, ...], Span] | None:
        """An int or a tuple of n ints (Keras accepts both for sizes and strides)."""
        got = self.value(el, attrs, key)
        if got is None:
            return None
        text, span = got
        if _INT.fullmatch(text):
            values: tuple[int, ...] = (int(text),) * n
        else:
            items = _tuple_items(text)
            if items is None or len(items) != n or any(i is None for i in items):
                what = "a whole number" + (f" or a tuple of {n}" if n > 1 else " or a 1-tuple like (5,)")
                raise self.fail(key, text, what, span)
            values = tuple(int(i) for i in items if i is not None)
        if any(v < 1 for v in values):
            raise self.fail(key, text, "positive", span)
        return values, span

    def number(self, el: ELEMENT, attrs: dict[str, str], key: str) -> tuple[str, Span] | None:
        got = self.value(el, attrs, key)
        if got is None:
            return None
        text, span = got
        if not _FLOAT.fullmatch(text) or not math.isfinite(float(text)):
            raise self.fail(key, text, "a number", span)
        return text, span

    def flag(self, el: ELEMENT, attrs: dict[str, str], key: str, default: bool) -> bool:
        got = self.value(el, attrs, key)
        if got is None:
            return default
        text, span = got
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise self.fail(key, text, "True or False", span)

    def word(
        self, el: ELEMENT, attrs: dict[str, str], key: str, allowed: Sequence[str], default: str
    ) -> tuple[str, Span]:
        got = self.value(el, attrs, key)
        if got is None:
            return default, self.r.span(el)
        text, span = got
        if text not in allowed:
            suggestion = did_you_mean(text, list(allowed))
            self.r.error(
                "bad-value",
                f"`{key}` is one of {', '.join(allowed)}, not {text!r}",
                span,
                help=f"did you mean {suggestion!r}?" if suggestion else None,
            )
            raise _Bad
        return text, span

    # ------------------------------------------------------------ the model

    def build(self) -> list[s.Chain]:
        chains: list[s.Chain] = []
        weighted = [
            i for i, op in enumerate(self.ops) if _op_key(op) in ("conv1d", "conv2d", "dense", "lstm")
        ]
        last_dense = max((i for i in weighted if _op_key(self.ops[i]) == "dense"), default=-1)
        if weighted and weighted[-1] != last_dense:
            last_dense = -1  # only a final Dense is the classifier
        for index, op in enumerate(self.ops):
            try:
                steps = self.operation(op, index, index == last_dense)
            except _Bad:
                continue
            if steps:
                chains.append(s.Chain(tuple(steps), self.r.span(op)))
        return chains

    def operation(self, el: ELEMENT, index: int, classifier: bool) -> list[s.Step]:
        raw = self.r.text_no_attrs(el)
        key = raw.strip().lower()
        span = self.r.span(el)
        if not key:
            self.r.error(
                "unknown-operation",
                "`<operation>` names no layer",
                span,
                help='write the Keras layer between the tags, e.g. <operation units="10">Dense</operation>',
            )
            raise _Bad
        if key not in OPERATIONS:
            names = [display for display, _ in OPERATIONS.values()]
            suggestion = did_you_mean(raw.strip(), names)
            self.r.error(
                "unknown-operation",
                f"unknown operation {raw.strip()!r}",
                self.r.text_span(el),
                label="archc does not know this Keras layer",
                help=f"did you mean {suggestion}?" if suggestion else "archc imports " + ", ".join(names),
            )
            raise _Bad
        display, allowed = OPERATIONS[key]
        attrs = self.r.attrs(el, sorted(allowed))
        refused = [k for k in el.attrib if k in _REFUSED]
        for name in refused:
            self.r.error(
                "unsupported",
                f"`{display}`: archc does not import `{name}`",
                self.r.attr_span(el, name, whole=True),
                label="no .arch equivalent",
                help="archc imports the architecture only; initializers, regularizers, weights "
                "and training switches stay in Keras",
            )
        if refused or any(k not in allowed and k not in _REFUSED for k in el.attrib):
            raise _Bad
        steps: list[s.Step] = []
        if index == 0:
            self.start(el, attrs, key, steps)
        elif "input_shape" in attrs:
            self.r.warning(
                "ignored-attribute",
                "`input_shape` on a later operation is ignored (as Keras does)",
                self.r.attr_span(el, "input_shape"),
            )
        if self.input_stmt is None:
            raise _Bad
        handler = getattr(self, f"op_{key}")
        handler(el, attrs, span, steps, classifier)
        return steps

    def start(self, el: ELEMENT, attrs: dict[str, str], key: str, steps: list[s.Step]) -> None:
        """The input statement, from the first operation's input_shape."""
        encoding = self.general.texts.get("inputencoding", "1D")
        want = 2 if encoding == "1D" else 3
        example = "(1000, 4)" if want == 2 else "(1, 1000, 4)"
        got = self.value(el, attrs, "input_shape")
        if got is None:
            self.r.error(
                "missing-attribute",
                f'the first operation needs `input_shape`, e.g. input_shape="{example}"',
                self.r.span(el),
                help="Keras needs it to build the model; archc takes the sequence length from it",
            )
            raise _Bad
        text, span = got
        items = _tuple_items(text)
        if items is None or len(items) != want:
            layout = "(length, alphabet)" if want == 2 else "(1, length, alphabet)"
            raise self.fail(
                "input_shape", text, f"{layout} for inputencoding {encoding}, e.g. {example}", span
            )
        if items[-1] != self.alphabet:
            space = self.general.texts.get("sequencespace")
            self.r.error(
                "bad-value",
                f"input_shape has {items[-1]} channels, but {space} sequences are one-hot "
                f"encoded with {self.alphabet}",
                span,
            )
            raise _Bad
        if want == 3 and items[0] != 1:
            raise self.fail("input_shape", text, "(1, length, alphabet) for inputencoding 2D", span)
        length = items[-2]
        given = self.r.opts.sets.get("length")
        if isinstance(given, int) and not isinstance(given, bool):
            if length is not None and given != length:
                self.notes.append(f"length {given} from --set replaces input_shape's {length}.")
            length = given
        if length is None or length < 1:
            self.r.error(
                "missing-argument",
                "input_shape leaves the sequence length open",
                span,
                help="pass --set length=N",
            )
            raise _Bad
        self.length, self.length_span = length, span
        chosen = self.r.opts.layout
        if chosen is not None and chosen != encoding:
            self.r.error(
                "bad-value",
                f"--layout {chosen} does not fit this model's input_shape ({encoding} encoding)",
                span,
                help=f"use --layout {encoding}, or leave it out for Keras' channels-last input",
            )
            raise _Bad

        def axis(name: str, size: int | None = None) -> s.Axis:
            return s.Axis(name, s.Int(size, span) if size is not None else None, span)

        if chosen is None:
            axes = [axis("batch"), axis("length"), axis("channels")]
            if want == 3:
                axes.insert(1, axis("height", 1))
            self.first = False
        else:
            axes = [axis("batch"), axis("channels"), axis("length")]
            if want == 3:
                axes.insert(2, axis("height", 1))
            self.first = True
            self.notes.append(f"Input in seqgra's PyTorch layout (inputencoding {chosen}): channels first.")
        self.rank = want
        self.input_stmt = s.InputStmt(tuple(axes), span)

    def need_rank(self, el: ELEMENT, ranks: Sequence[int], what: str) -> None:
        if self.rank not in ranks:
            self.r.error(
                "bad-shape",
                f"`{_op_name(el)}` needs {what}, but its input has {self.rank + 1} axes here",
                self.r.span(el),
            )
            raise _Bad

    def activation(self, el: ELEMENT, attrs: dict[str, str], steps: list[s.Step], classifier: bool) -> None:
        name, span = self.word(el, attrs, "activation", ACTIVATIONS, "linear")
        if name == "linear":
            return
        if classifier and el is self.ops[-1]:
            if name == "softmax" and self.loss in _SOFTMAX_LOSSES:
                self.r.warning(
                    "softmax-dropped",
                    "the final softmax is left out: the model returns logits",
                    span,
                    label="not translated",
                    help="PyTorch's CrossEntropyLoss applies log-softmax itself, so a softmax here "
                    "would be applied twice; apply softmax to the outputs for probabilities",
                )
                self.notes.append("The final softmax was left out: the model returns logits.")
                return
            if name == "sigmoid" and self.loss in _SIGMOID_LOSSES:
                self.r.warning(
                    "softmax-dropped",
                    "the final sigmoid is left out: the model returns logits",
                    span,
                    label="not translated",
                    help="PyTorch's BCEWithLogitsLoss applies the sigmoid itself; apply sigmoid "
                    "to the outputs for probabilities",
                )
                self.notes.append("The final sigmoid was left out: the model returns logits.")
                return
        if name == "softmax":
            dim = 1 if (self.first and self.rank >= 2) else -1
            steps.append(self.step(self.call("softmax", span, ("dim", s.Int(dim, span))), span))
        else:
            steps.append(self.step(s.Ref(name, span), span))

    # ------------------------------------------------------------ operations

    def conv(self, el: ELEMENT, attrs: dict[str, str], span: Span, steps: list[s.Step], n: int) -> None:
        self.need_rank(
            el,
            (n + 1,),
            f"a {n + 2}-D input (batch, {'length' if n == 1 else 'height, width'}, channels)",
        )
        filters, fspan = self.integer(el, attrs, "filters") or (0, span)
        kernel = self.ints(el, attrs, "kernel_size", n)
        if kernel is None:
            self.integer(el, attrs, "kernel_size")  # reports the missing attribute
            raise _Bad
        strides = self.ints(el, attrs, "strides", n)
        dilation = self.ints(el, attrs, "dilation_rate", n)
        padding, pspan = self.word(el, attrs, "padding", ("valid", "same", "causal"), "valid")
        bias = self.flag(el, attrs, "use_bias", True)
        if padding == "causal":
            self.r.error(
                "unsupported",
                'padding="causal" has no PyTorch convolution equivalent',
                pspan,
                help="pad on the left yourself in an .arch file, or use valid/same",
            )
            raise _Bad
        if padding == "same" and strides is not None and any(v != 1 for v in strides[0]):
            self.r.error(
                "unsupported",
                'padding="same" with strides above 1 has no PyTorch equivalent',
                pspan,
                help='Keras pads such convolutions unevenly; PyTorch accepts "same" only with stride 1',
            )
            raise _Bad
        self.layout(True, span, steps)

        def size(values: tuple[int, ...], at: Span) -> s.Expr:
            return s.Int(values[0], at) if n == 1 else s.TupleExpr(tuple(s.Int(v, at) for v in values), at)

        args: list[tuple[str | None, s.Expr]] = [
            (None, s.Int(filters, fspan)),
            ("kernel_size", size(*kernel)),
        ]
        if strides is not None and any(v != 1 for v in strides[0]):
            args.append(("stride", size(*strides)))
        if padding == "same":
            args.append(("padding", s.Str("same", pspan)))
        if dilation is not None and any(v != 1 for v in dilation[0]):
            args.append(("dilation", size(*dilation)))
        if not bias:
            args.append(("bias", s.Bool(False, self.r.attr_span(el, "use_bias"))))
        steps.append(self.step(self.call(f"conv{n}d", span, *args), span, self.name("conv")))
        self.activation(el, attrs, steps, False)

    def op_conv1d(
        self, el: ELEMENT, attrs: dict[str, str], span: Span, steps: list[s.Step], classifier: bool
    ) -> None:
        self.conv(el, attrs, span, steps, 1)

    def op_conv2d(
        self, el: ELEMENT, attrs: dict[str, str], span: Span, steps: list[s.Step], classifier: bool
    ) -> None:
        self.conv(el, attrs, span, steps, 2)

    def op_dense(
        self, el: ELEMENT, attrs: dict[str, str], span: Span, steps: list[s.Step], classifier: bool
    ) -> None:
        units, uspan = self.integer(el, attrs, "units") or (0, span)
        bias = self.flag(el, attrs, "use_bias", True)
        self.layout(False, span, steps)  # Dense acts on the last axis, per position
        out: s.Expr = s.Int(units, uspan)
        if classifier and self.rank == 1 and units == self.general.classes:
            out = s.Var("classes", uspan)
        args: list[tuple[str | None, s.Expr]] = [(None, out)]
        if not bias:
            args.append(("bias", s.Bool(False, self.r.attr_span(el, "use_bias"))))
        steps.append(self.step(self.call("linear", span, *args), span, self.name("fc")))
        if classifier and self.rank == 1 and units != self.general.classes:
            self.r.warning(
                "label-count",
                f"the last Dense has {units} units, but the labels name {self.general.classes} classes",
                uspan,
                help="seqgra needs one output per label",
            )
        self.activation(el, attrs, steps, classifier)

    def op_flatten(
        self, el: ELEMENT, attrs: dict[str, str], span: Span, steps: list[s.Step], classifier: bool
    ) -> None:
        self.layout(False, span, steps)  # Keras flattens channels-last, (length, channels) order
        steps.append(self.step(s.Ref("flatten", span), span))
        self.rank = 1

    def op_reshape(
        self, el: ELEMENT, attrs: dict[str, str], span: Span, steps: list[s.Step], classifier: bool
    ) -> None:
        got = self.value(el, attrs, "target_shape")
        if got is None:
            self.integer(el, attrs, "target_shape")  # reports the missing attribute
            raise _Bad
        text, tspan = got
        items = _tuple_items(text)
        if not items or any(i is None or i == 0 or i < -1 for i in items) or items.count(-1) > 1:
            raise self.fail("target_shape", text, "a tuple of positive sizes (one may be -1)", tspan)
        self.layout(False, span, steps)
        args: list[tuple[str | None, s.Expr]] = [(None, s.Var("batch", tspan))]
        args.extend((None, s.Int(int(i), tspan)) for i in items if i is not None)
        steps.append(self.step(self.call("reshape", span, *args), span))
        self.rank = len(items)
        self.first = False

    def op_lstm(
        self, el: ELEMENT, attrs: dict[str, str], span: Span, steps: list[s.Step], classifier: bool
    ) -> None:
        self.need_rank(el, (2,), "a 3-D input (batch, steps, features)")
        units, uspan = self.integer(el, attrs, "units") or (0, span)
        sequences = self.flag(el, attrs, "return_sequences", False)
        bias = self.flag(el, attrs, "use_bias", True)
        self.word(el, attrs, "activation", ("tanh",), "tanh")
        self.word(el, attrs, "recurrent_activation", ("sigmoid",), "sigmoid")
        self.layout(False, span, steps)
        args: list[tuple[str | None, s.Expr]] = [
            (None, s.Int(units, uspan)),
            ("batch_first", s.Bool(True, span)),
        ]
        if not bias:
            args.append(("bias", s.Bool(False, self.r.attr_span(el, "use_bias"))))
        steps.append(self.step(self.call("lstm", span, *args), span, self.name("lstm")))
        if not sequences:
            # Keras returns the last step's output unless return_sequences is set.
            steps.append(
                self.step(self.call("select", span, (None, s.Int(1, span)), (None, s.Int(-1, span))), span)
            )
            self.rank = 1

    def op_globalmaxpool1d(
        self, el: ELEMENT, attrs: dict[str, str], span: Span, steps: list[s.Step], classifier: bool
    ) -> None:
        self.need_rank(el, (2,), "a 3-D input (batch, length, channels)")
        self.layout(True, span, steps)
        steps.append(self.step(s.Ref("global_max_pool", span), span))
        self.rank = 1

    def op_maxpool1d(
        self, el: ELEMENT, attrs: dict[str, str], span: Span, steps: list[s.Step], classifier: bool
    ) -> None:
        self.need_rank(el, (2,), "a 3-D input (batch, length, channels)")
        pool = self.integer(el, attrs, "pool_size", default=2)
        size, pspan = pool if pool is not None else (2, span)
        strides = self.integer(el, attrs, "strides", default=size)
        padding, padspan = self.word(el, attrs, "padding", ("valid", "same"), "valid")
        if padding == "same":
            self.r.error(
                "unsupported",
                'MaxPool1D with padding="same" has no PyTorch equivalent',
                padspan,
                help='Keras pads such pools on both sides with -inf; use padding="valid"',
            )
            raise _Bad
        self.layout(True, span, steps)
        args: list[tuple[str | None, s.Expr]] = [(None, s.Int(size, pspan))]
        # Keras' pool stride defaults to the pool size, as PyTorch's does.
        if strides is not None and strides[0] != size:
            args.append(("stride", s.Int(strides[0], strides[1])))
        steps.append(self.step(self.call("maxpool1d", span, *args), span))

    def op_dropout(
        self, el: ELEMENT, attrs: dict[str, str], span: Span, steps: list[s.Step], classifier: bool
    ) -> None:
        got = self.number(el, attrs, "rate")
        if got is None:
            self.integer(el, attrs, "rate")  # reports the missing attribute
            raise _Bad
        text, rspan = got
        rate = float(text)
        if not 0 <= rate < 1:
            raise self.fail("rate", text, "a fraction in [0, 1)", rspan)
        steps.append(self.step(self.call("dropout", span, (None, s.Float(rate, rspan))), span))

    def op_batchnormalization(
        self, el: ELEMENT, attrs: dict[str, str], span: Span, steps: list[s.Step], classifier: bool
    ) -> None:
        axis = self.value(el, attrs, "axis")
        if axis is not None and axis[0] not in ("-1", str(self.rank)):
            raise self.fail("axis", axis[0], "-1 (the channels axis)", axis[1])
        momentum = self.number(el, attrs, "momentum")
        epsilon = self.number(el, attrs, "epsilon")
        keras_momentum = momentum[0] if momentum else "0.99"
        try:
            # Keras keeps `momentum` of the old running mean, PyTorch `momentum` of the new batch.
            torch_momentum = float(Decimal(1) - Decimal(keras_momentum))
        except InvalidOperation:
            raise self.fail(
                "momentum", keras_momentum, "a number", momentum[1] if momentum else span
            ) from None
        if not 0 <= torch_momentum <= 1:
            raise self.fail(
                "momentum",
                keras_momentum,
                "a fraction in [0, 1]",
                momentum[1] if momentum else span,
            )
        mspan = momentum[1] if momentum else span
        eps = float(epsilon[0]) if epsilon else 0.001  # Keras' default, not PyTorch's 1e-5
        espan = epsilon[1] if epsilon else span
        kind = "batchnorm2d" if self.rank == 3 else "batchnorm1d"
        self.layout(True, span, steps)
        call = self.call(
            kind, span, ("eps", s.Float(eps, espan)), ("momentum", s.Float(torch_momentum, mspan))
        )
        steps.append(self.step(call, span, self.name("bn")))


def _op_key(el: ELEMENT) -> str:
    text = (el.text or "") + "".join(child.tail or "" for child in el)
    return text.strip().lower()


def _op_name(el: ELEMENT) -> str:
    key = _op_key(el)
    return OPERATIONS[key][0] if key in OPERATIONS else key


def _loss_key(entries: Sequence[s.MetaEntry]) -> str:
    """The loss named in `<loss>`, lower case without underscores, as seqgra compares it."""
    for entry in entries:
        if entry.key == "loss" and isinstance(entry.value, s.MetaMap):
            for inner in entry.value.entries:
                if inner.key == "loss" and isinstance(inner.value, s.Str):
                    return inner.value.value.lower().replace("_", "").strip()
    return ""


def _tuple_items(text: str) -> list[int | None] | None:
    """The items of a Python tuple or list literal of whole numbers and None, else None."""
    text = text.strip()
    if len(text) < 2 or (text[0], text[-1]) not in (("(", ")"), ("[", "]")):
        return None
    inner = text[1:-1].strip()
    if not inner:
        return []
    parts = [p.strip() for p in inner.split(",")]
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    out: list[int | None] = []
    for part in parts:
        if part == "None":
            out.append(None)
        elif re.fullmatch(r"-?[0-9]+", part):
            out.append(int(part))
        else:
            return None
    return out


# ---------------------------------------------------------------------- entry point


def read_xml(source: Source, options: Options) -> Loaded:
    """Read a seqgra model definition into a syntax tree whose spans point into the XML."""
    reader = _Reader(source, options)
    try:
        return reader.run()
    except _Stop:
        return Loaded(source, None, reader.rep, [])
