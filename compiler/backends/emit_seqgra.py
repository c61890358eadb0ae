"""Write a seqgra model definition (XML) for a compiled PyTorch module.

The definition points at the module (`<external format="pytorch-module">`) and
carries the architecture's `meta { ... }`. Where the metadata says nothing, the
defaults below apply; they are derived from the architecture where they can be:

- id and name: the architecture's name; description: where it came from
- task: multi-class classification
- sequencespace: DNA for an alphabet of 4, protein for 20
- library: PyTorch (the module is PyTorch whatever the metadata said)
- inputencoding: 1D for input (batch, alphabet, length), 2D for (batch, alphabet, 1, length);
  left out only where imported PyTorch metadata left it out and it is seqgra's default, 1D
- labels: pattern c1..c{classes}, classes being the output size
- seed: 1; loss: CrossEntropyLoss (BCEWithLogitsLoss for multi-label)
- optimizer: Adam, learning rate 0.001
- trainingprocess: batch size 100, 100 epochs, early stopping, shuffling

Metadata imported from a TensorFlow definition is translated where the library
matters: library becomes PyTorch and the Keras loss its PyTorch counterpart
(categorical_crossentropy -> CrossEntropyLoss, binary_crossentropy -> BCEWithLogitsLoss);
every other field is written back exactly. The document is built with lxml, so every
value is escaped; metadata seqgra cannot hold is a UsageError (nothing is written).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from lxml import etree

from ..core.pysafe import literal
from ..core.seqgra_vocab import ALPHABETS, TASKS  # one definition of seqgra's vocabulary
from ..frontends.files import UsageError
from ..ir import nodes as ir

XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA = "https://kkrismer.github.io/seqgra/model-config.xsd"

FIELDS = (
    "id",
    "name",
    "description",
    "task",
    "sequencespace",
    "library",
    "implementation",
    "inputencoding",
    "labels",
    "seed",
    "loss",
    "optimizer",
    "trainingprocess",
)
DEFAULT_OPTIMIZER = {"optimizer": "Adam", "learning_rate": "0.001"}
DEFAULT_TRAINING = {
    "batch_size": "100",
    "epochs": "100",
    "early_stopping": "True",
    "shuffle": "True",
}
# Keras losses (as seqgra compares them: lower case, no underscores) -> PyTorch's.
KERAS_LOSSES = {
    "categoricalcrossentropy": "CrossEntropyLoss",
    "sparsecategoricalcrossentropy": "CrossEntropyLoss",
    "binarycrossentropy": "BCEWithLogitsLoss",
    "meansquarederror": "MSELoss",
    "mse": "MSELoss",
    "meanabsoluteerror": "L1Loss",
    "mae": "L1Loss",
}
_ID = re.compile(r"[A-Za-z0-9_-]+")


def text(value: Any, where: str) -> str:
    """A metadata value as seqgra writes it (Python spelling: True, 0.001, (0.9, 0.999))."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UsageError(f"seqgra export: {where} is {value!r}, which is not a usable number")
        return repr(value)
    if isinstance(value, (int, str)):
        return str(value)
    if value is None:
        return "None"
    if isinstance(value, tuple):
        return literal(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) if isinstance(v, tuple) else repr(v) for v in value) + "]"
    raise UsageError(f"seqgra export: {where} must be a single value, not a {type(value).__name__}")


def _input_encoding(arch: ir.Architecture, alphabet: int | None) -> str | None:
    """1D or 2D when the input is in a layout seqgra feeds PyTorch modules, else None."""
    dims = arch.input_shape
    if not dims or dims[0].size is not None:
        return None
    labels = [d.label for d in dims]
    if "channels" in labels:
        channel = labels.index("channels")
    else:
        matches = [i for i, d in enumerate(dims) if alphabet is not None and d.size == alphabet]
        channel = matches[0] if len(matches) == 1 else -1
    if channel != 1:
        return None
    if len(dims) == 3:
        return "1D"
    if len(dims) == 4 and dims[2].size == 1:
        return "2D"
    return None


def _classes(arch: ir.Architecture) -> int | None:
    out = arch.cls.out_shape
    if len(out) == 2 and out[0].size is None and out[1].size is not None:
        return out[1].size
    params = dict(arch.params)
    value = params.get("classes")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _hyperparameters(parent: Any, tag: str, values: Any) -> None:
    if not isinstance(values, Mapping):
        raise UsageError(
            f"seqgra export: meta `{tag}` must be a map of hyperparameters, e.g. {tag} = {{ name = value }}"
        )
    group = etree.SubElement(parent, tag)
    for name, value in values.items():
        element = etree.SubElement(group, "hyperparameter", name=str(name))
        element.text = text(value, f"{tag}.{name}")


def _labels(parent: Any, labels: Any, classes: int | None) -> None:
    element = etree.SubElement(parent, "labels")
    if isinstance(labels, list):
        if not labels:
            raise UsageError("seqgra export: meta `labels` lists no labels")
        if classes is not None and len(labels) != classes:
            raise UsageError(
                f"seqgra export: meta `labels` names {len(labels)} classes, but the model outputs {classes}"
            )
        for i, label in enumerate(labels):
            etree.SubElement(element, "label").text = text(label, f"labels[{i}]")
        return
    if not isinstance(labels, Mapping):
        raise UsageError(
            'seqgra export: meta `labels` is a list (["a", "b"]) or a pattern '
            '({ prefix = "c", min = 1, max = 10 })'
        )
    unknown = sorted(set(labels) - {"prefix", "postfix", "min", "max"})
    if unknown:
        raise UsageError(f"seqgra export: the label pattern has no field `{unknown[0]}`")
    if "max" not in labels:
        raise UsageError("seqgra export: the label pattern needs `max`")
    try:
        low = int(str(labels.get("min", 1)).strip())
        high = int(str(labels["max"]).strip())
    except ValueError:
        raise UsageError("seqgra export: the label pattern's min and max must be whole numbers") from None
    if classes is not None and high - low + 1 != classes:
        raise UsageError(
            f"seqgra export: the label pattern names {high - low + 1} classes, "
            f"but the model outputs {classes}"
        )
    pattern = etree.SubElement(element, "pattern")
    for key in ("prefix", "postfix", "min", "max"):
        if key in labels:
            pattern.set(key, text(labels[key], f"labels.{key}"))


def emit_xml(arch: ir.Architecture, module_filename: str, class_name: str) -> str:
    """The seqgra model definition of a compiled architecture (deterministic, pretty-printed)."""
    meta = dict(arch.meta)
    unknown = [key for key in meta if key not in FIELDS]
    if unknown:
        raise UsageError(
            f"seqgra export: meta `{unknown[0]}` has no place in a seqgra model definition "
            f"(it holds: {', '.join(FIELDS)})"
        )
    if len(arch.cls.outputs) > 1:
        raise UsageError(
            f"seqgra export: `{arch.name}` returns {len(arch.cls.outputs)} outputs "
            f"({', '.join(arch.cls.outputs)}), but seqgra trains a model with one output; "
            "export an architecture that returns one tensor"
        )
    if arch.cls.output_keys is not None:
        raise UsageError(
            f"seqgra export: `{arch.name}` returns a dict, but seqgra trains a model that returns "
            "one tensor; export an architecture that returns one tensor"
        )
    if arch.extra_inputs:
        raise UsageError(
            f"seqgra export: `{arch.name}` takes {1 + len(arch.extra_inputs)} inputs, but seqgra "
            "feeds a model one sequence tensor"
        )
    params = dict(arch.params)
    alphabet_param = params.get("alphabet")
    alphabet = alphabet_param if isinstance(alphabet_param, int) else None
    encoding = _input_encoding(arch, alphabet)
    if encoding is None:
        raise UsageError(
            f"seqgra export: `{arch.name}` takes its input as "
            f"({', '.join(d.label for d in arch.input_shape)}), but seqgra feeds PyTorch modules "
            "(batch, alphabet, length) (inputencoding 1D) or (batch, alphabet, 1, length) (2D); "
            "import Keras models with --layout 1D, or declare input (batch, channels, length)"
        )
    if alphabet is None:
        alphabet = arch.input_shape[1].size
    classes = _classes(arch)

    library = str(meta.get("library", "PyTorch"))
    if library not in ("PyTorch", "TensorFlow"):
        raise UsageError(f"seqgra export: library {library!r} does not run PyTorch modules")
    task = str(meta.get("task", TASKS[0]))
    if task not in TASKS:
        raise UsageError(f"seqgra export: unknown task {task!r} (seqgra knows {', '.join(TASKS)})")
    if "sequencespace" in meta:
        space = str(meta["sequencespace"])
        if ALPHABETS.get(space) != alphabet:
            raise UsageError(
                f"seqgra export: sequencespace {space!r} does not fit an input of {alphabet} channels"
            )
    else:
        space = next((k for k, v in ALPHABETS.items() if v == alphabet), "")
        if not space:
            raise UsageError(
                f"seqgra export: an alphabet of {alphabet} is neither DNA (4) nor protein (20); "
                'set meta { sequencespace = "..." }'
            )
    declared = meta.get("inputencoding")
    if declared is not None and declared != encoding:
        raise UsageError(
            f"seqgra export: meta inputencoding {declared!r} contradicts the input "
            f"({', '.join(d.label for d in arch.input_shape)}), which is {encoding}"
        )
    model_id = str(meta.get("id", arch.name))
    if not _ID.fullmatch(model_id):
        raise UsageError(f"seqgra export: id {model_id!r} may only hold letters, digits, _ and -")

    loss = meta.get("loss", {"loss": "CrossEntropyLoss" if task == TASKS[0] else "BCEWithLogitsLoss"})
    if library == "TensorFlow" and isinstance(loss, Mapping) and "loss" in loss:
        keras = str(loss["loss"]).lower().replace("_", "").strip()
        if keras not in KERAS_LOSSES:
            raise UsageError(
                f"seqgra export: the Keras loss {loss['loss']!r} has no PyTorch counterpart here; "
                'set meta { loss = { loss = "..." } } to a PyTorch loss'
            )
        loss = {**loss, "loss": KERAS_LOSSES[keras]}

    root = etree.Element("seqgramodel", nsmap={"xsi": XSI})
    root.set(f"{{{XSI}}}noNamespaceSchemaLocation", SCHEMA)
    try:
        general = etree.SubElement(root, "general", id=model_id)
        fields = {
            "name": meta.get("name", arch.name),
            "description": meta.get("description", f"{arch.name}, compiled by archc to {module_filename}"),
            "task": task,
            "sequencespace": space,
            "library": "PyTorch",
        }
        for key, value in fields.items():
            etree.SubElement(general, key).text = text(value, key)
        if "implementation" in meta:
            etree.SubElement(general, "implementation").text = text(meta["implementation"], "implementation")
        # A PyTorch definition that left it out meant seqgra's default, 1D: keep it out.
        if declared is not None or encoding != "1D" or "library" not in meta or library != "PyTorch":
            etree.SubElement(general, "inputencoding").text = encoding
        if "labels" in meta:
            _labels(general, meta["labels"], classes)
        elif classes is None:
            raise UsageError(
                f"seqgra export: cannot tell how many classes `{arch.name}` has; "
                "give meta { labels = [...] }"
            )
        else:
            _labels(general, {"prefix": "c", "postfix": "", "min": 1, "max": classes}, classes)
        seed = meta.get("seed", 1)
        if not re.fullmatch(r"\s*[+-]?[0-9]+\s*", text(seed, "seed")):
            raise UsageError(f"seqgra export: seed must be a whole number, not {seed!r}")
        etree.SubElement(general, "seed").text = text(seed, "seed")

        architecture = etree.SubElement(root, "architecture")
        external = etree.SubElement(architecture, "external", format="pytorch-module", classname=class_name)
        external.text = module_filename

        _hyperparameters(root, "loss", loss)
        _hyperparameters(root, "optimizer", meta.get("optimizer", DEFAULT_OPTIMIZER))
        _hyperparameters(root, "trainingprocess", meta.get("trainingprocess", DEFAULT_TRAINING))
    except ValueError as err:
        # lxml refuses control characters XML cannot hold.
        raise UsageError(f"seqgra export: metadata cannot be written as XML ({err})") from None
    body = etree.tostring(root, pretty_print=True, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body
