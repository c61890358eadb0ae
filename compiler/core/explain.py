"""Long explanations of diagnostic codes, for `archc explain CODE` (like `rustc --explain`).

`EXPLANATIONS` maps every code archc can report to (one-line summary, long text). The long
text is plain text wrapped at 88 columns. An example is an indented block after a line
`Wrong:` (it reports the code) and one after `Right:` (it does not); tests/test_explain.py
lints both. Codes that only a seqgra .xml, a PyTorch .py, the file itself or `--set` can
produce have no `.arch` example.

This module is part of `core`: it imports nothing outside the standard library and core.
"""

from __future__ import annotations

import textwrap

from .diagnostics import did_you_mean

WIDTH = 88

_WARNING_NOTE = (
    "This is a warning. A warning can be kept: archc lint still exits 0; `--strict` makes "
    "warnings fail. To keep it on purpose, acknowledge it where it happens with a comment "
    "`# archc: allow(CODE)` at the end of its line (or alone on the line before), or for "
    "the whole file with `# archc: allow-file(CODE)`; lint and `--strict` then pass, and an "
    "acknowledgement that matches nothing is reported as `unused-allow`."
)

_HEAD = "arch m(classes = 2, length = 100, alphabet = 4) {"


def _ex(*lines: str) -> str:
    """A small .arch example: the usual header, the steps, the closing brace."""
    return "\n".join([_HEAD, *("  " + line for line in lines), "}"])


def _format(summary: str, parts: list[str], warning: bool) -> str:
    """Wrap prose paragraphs at WIDTH; `Wrong:`/`Right:` examples are indented verbatim."""
    out: list[str] = []
    pending: str | None = None
    for part in parts:
        if part in ("Wrong:", "Right:"):
            pending = part
            continue
        if pending is not None:
            out.append(pending)
            out.append(textwrap.indent(part, "    "))
            pending = None
            continue
        out.append(textwrap.fill(part, WIDTH, break_on_hyphens=False, break_long_words=False))
    if warning:
        out.append(textwrap.fill(_WARNING_NOTE, WIDTH, break_on_hyphens=False))
    return summary + "\n\n" + "\n\n".join(out)


def _seqgra(what: str, why: str, fix: str) -> list[str]:
    return [
        what,
        why,
        fix,
        "This code comes from reading a seqgra model definition (.xml, with `archc lint`, "
        "`compile` or `import`); an .arch file never produces it.",
    ]


def _torch(what: str, why: str, fix: str) -> list[str]:
    return [
        what,
        why,
        fix,
        "This code comes from lifting a PyTorch module (.py, with `archc lint`, `compile` or "
        "`import`, or the file named by a seqgra `<external>`); an .arch file never produces it.",
    ]


# code -> (summary, paragraphs and examples, is a warning)
_RAW: dict[str, tuple[str, list[str], bool]] = {
    # ------------------------------------------------------------------ syntax and names
    "syntax": (
        "the text is not valid archc syntax (or, in a .py file, not valid Python)",
        [
            "The parser could not read the file. The message names what it expected and "
            "where: a missing `)` or `}` (an unclosed brace points at its `{`), two steps "
            "without `|` between them, single quotes instead of double quotes, an unexpected "
            "character. A positional argument after a keyword argument is a syntax error too. "
            "In a PyTorch .py file being lifted, it means the file is not valid Python.",
            "Nothing after the parser can run on a file it cannot read, so this is the first "
            "thing to fix; the rest of the file is not checked until it parses.",
            "Wrong:",
            _ex("c = conv1d(8, 5"),
            "Right:",
            _ex("c = conv1d(8, 5)"),
        ],
        False,
    ),
    "unknown-layer": (
        "a step names a layer or block that does not exist",
        [
            "A step calls a name that is neither a built-in layer nor a block defined in the "
            "file. The help suggests the nearest name (`conv1e` -> `conv1d`, `Resblock` -> "
            "`ResBlock`: block names are case-sensitive). When a PyTorch .py file is lifted, "
            "it means a torch.nn class archc has no layer for.",
            "archc would not know which torch module to build; PyTorch itself would fail with "
            "a NameError or AttributeError.",
            "Wrong:",
            _ex("c = conv1e(8, 5)"),
            "Right:",
            _ex("c = conv1d(8, 5)"),
            "A PyTorch layer archc knows of but does not support yet is `unsupported-layer` instead.",
        ],
        False,
    ),
    "unsupported-layer": (
        "a real PyTorch layer or operation that archc does not support yet",
        [
            "The name is a PyTorch layer (`prelu` for nn.PReLU, `instancenorm1d`, ...) that "
            "archc has no shape rules or code generation for. It is reported as such rather "
            "than as a misspelling, and the help lists what archc has.",
            "archc cannot check or generate what it does not model. Write the step from "
            "layers archc has (in a block if it recurs), or keep that part of the model in "
            "PyTorch.",
            "Wrong:",
            _ex("c = conv1d(16, 5) | prelu"),
            "Right:",
            _ex("c = conv1d(16, 5) | relu"),
        ],
        False,
    ),
    "unknown-parameter": (
        "a layer or block is given a parameter it does not have",
        [
            "A keyword argument names no parameter of the layer or block (often a "
            "misspelling: `kernal_size`; the help suggests the nearest name and lists the "
            "parameters). Merges (`add`, `cat`, ...) take only their tensors and `axis`/`dim`. "
            "In a lifted PyTorch .py it is a keyword the torch.nn class does not take.",
            "PyTorch would raise `TypeError: __init__() got an unexpected keyword argument`.",
            "Wrong:",
            _ex("c = conv1d(8, kernal_size = 5)"),
            "Right:",
            _ex("c = conv1d(8, kernel_size = 5)"),
        ],
        False,
    ),
    "missing-argument": (
        "a layer is missing a required argument",
        [
            "A layer's required parameter has no value: `conv1d` without a kernel size, "
            "`upsample` with neither `size` nor `scale_factor`, `crop` with neither the "
            "positions to drop nor `to`. From seqgra, an `input_shape` that leaves the length "
            "open (pass `--set length=N`); from a lifted .py, an nn layer without its output "
            "size.",
            "PyTorch would raise `TypeError: missing a required argument` when building the module.",
            "Wrong:",
            _ex("c = conv1d(8)"),
            "Right:",
            _ex("c = conv1d(8, 5)"),
        ],
        False,
    ),
    "duplicate-argument": (
        "an argument is given twice (positionally and by name, or twice by name)",
        [
            "The same parameter of a layer or block gets two values, e.g. the kernel size as "
            "the second positional argument and again as `kernel_size = ...`; or a `meta` key "
            "appears twice.",
            "Python refuses this (`got multiple values for argument`); archc will not guess "
            "which value is meant.",
            "Wrong:",
            _ex("c = conv1d(8, 5, kernel_size = 5)"),
            "Right:",
            _ex("c = conv1d(8, kernel_size = 5)"),
        ],
        False,
    ),
    "too-many-arguments": (
        "a layer or block is given more positional arguments than it takes",
        [
            "A call has more positional arguments than the layer or block has positional "
            "parameters. Extra values must be passed by name, if the parameter exists.",
            "PyTorch would raise `TypeError: takes N positional arguments`. A value that does "
            "fit a positional parameter but was meant for another is a `type-error` or passes "
            "silently, so prefer names for everything after the sizes.",
            "Wrong:",
            _ex("flatten | fc = linear(10, true, 3)"),
            "Right:",
            _ex("flatten | fc = linear(10, bias = true)"),
        ],
        False,
    ),
    "type-error": (
        "a value has the wrong type (a string for a number, a number for a boolean, ...)",
        [
            "An argument or expression has a type its use does not accept: a string where a "
            "whole number is needed, `1` where `true` or `false` is needed, `not`, `and`, "
            "`or` on non-booleans, a comparison of a number with a string, arithmetic on a "
            "string.",
            "PyTorch would raise a TypeError or, worse, accept the value with another "
            "meaning (a truthy `bias = 1`).",
            "Wrong:",
            _ex('c = conv1d(8, "five")'),
            "Right:",
            _ex("c = conv1d(8, 5)"),
        ],
        False,
    ),
    "duplicate-name": (
        "a name is defined twice (a layer, block, parameter, architecture or tensor)",
        [
            "Two layers of one architecture have the same name, a block or an architecture is "
            "defined twice, a block has the name of a built-in layer, a parameter is declared "
            "twice, or one name is used for a tensor and for a layer. To apply the same layer "
            "again, write its bare name (`c`), not `c = ...` a second time.",
            "A layer name is an attribute of the generated nn.Module and its state_dict key: "
            "two layers with one name would overwrite each other and their weights.",
            "Wrong:",
            _ex("c = conv1d(8, 5)", "c = conv1d(8, 5)"),
            "Right:",
            _ex("c1 = conv1d(8, 5)", "c2 = conv1d(8, 5)"),
        ],
        False,
    ),
    "undefined-name": (
        "an expression uses a name that is not a parameter or constant",
        [
            "A size or argument refers to a name that no parameter, `let` or loop variable "
            "defines (the help suggests the nearest one). In a lifted .py, a name or "
            "`self.attr` read before it is set.",
            "The value cannot be computed, so no shape can be checked.",
            "Wrong:",
            _ex("flatten | fc = linear(clases)"),
            "Right:",
            _ex("flatten | fc = linear(classes)"),
        ],
        False,
    ),
    "bad-name": (
        "a name cannot be used: a Python keyword, a torch.nn.Module attribute, or reserved",
        [
            "A layer, tensor, block or parameter name would break the generated Python: a "
            "keyword (`class`), a torch.nn.Module attribute (`eval`, `train`, `forward`, ...) "
            "or a name archc uses itself. A block name must be a valid class name. In a "
            "lifted .py, an attribute that is not an ASCII identifier.",
            "`self.eval = nn.Conv1d(...)` would replace nn.Module.eval, and `model.eval()` "
            "would then call the convolution.",
            "Wrong:",
            _ex("eval = conv1d(8, 3)"),
            "Right:",
            _ex("conv = conv1d(8, 3)"),
        ],
        False,
    ),
    "recursive-block": (
        "a block uses itself, directly or through other blocks",
        [
            "Blocks are expanded where they are used; a block that contains itself (the "
            "message shows the cycle, e.g. A -> B -> A) would expand forever.",
            "The generated module would never finish building (or hit Python's recursion limit).",
            "Wrong:",
            "block A(n) { b = B(n) }\nblock B(n) { a = A(n) }\n" + _ex("a = A(1)"),
            "Right:",
            "block A(n) { b = B(n) }\nblock B(n) { c = conv1d(n, 3) }\n" + _ex("a = A(8)"),
        ],
        False,
    ),
    "needs-name": (
        "a layer with weights has no name",
        [
            "Outside `seq`, a layer with weights (conv, linear, batchnorm, lstm, ...) must be "
            "named: `c = conv1d(8, 3)`. Steps without weights (relu, dropout, pooling, "
            "flatten, tensor operations) need no name.",
            "The name becomes the module's attribute and its state_dict key; without one, "
            "checkpoints would have arbitrary keys that change when the model is edited.",
            "Wrong:",
            _ex("conv1d(8, 3)"),
            "Right:",
            _ex("c = conv1d(8, 3)"),
        ],
        False,
    ),
    "misplaced": (
        "a statement stands where it cannot",
        [
            "A statement or step is not allowed at this place: a `residual`, a merge or a "
            "`:=` inside `seq`; `input` or `meta` anywhere but the top of an `arch`; a step "
            "after `return`, or a block returning several tensors; `=` naming a tensor, a "
            "loop, an `if`, a residual or a merge (`=` names layers, `:=` names tensors); a "
            "tensor name in the middle of a chain; a loop's layer list used outside its loop.",
            "Each has no faithful PyTorch form: `seq` becomes nn.Sequential, which only calls "
            "its modules one after the other (it cannot add its input back or name tensors), "
            "and only modules can be registered under a name. A residual inside a seq can be "
            "moved into a block, and the block put in the seq.",
            "Wrong:",
            _ex("s = seq { residual { relu } }"),
            "Right:",
            _ex("residual { relu }"),
        ],
        False,
    ),
    "input-order": (
        "`input` comes after a step",
        [
            "`input` declarations must come first in an `arch`, before any step.",
            "Steps run on the current tensor, which starts as the first input: a step before "
            "the `input` would have nothing to read.",
            "Wrong:",
            _ex("relu", "input (batch, channels, length)"),
            "Right:",
            _ex("input (batch, channels, length)", "relu"),
        ],
        False,
    ),
    "empty": (
        "the file defines no architecture, or a `seq` has no steps",
        [
            "An .arch file must contain at least one `arch NAME(...) { ... }`; a file of "
            "blocks and comments alone compiles to nothing. Also raised for `seq { }` with no "
            "steps.",
            "There would be no module to generate (an empty nn.Sequential is the identity, "
            "which is never what was meant).",
            "Wrong:",
            "block B(n) { c = conv1d(n, 3) }",
            "Right:",
            "block B(n) { c = conv1d(n, 3) }\n" + _ex("b = B(8)"),
        ],
        False,
    ),
    "bad-set": (
        "`--set` names a parameter that does not exist, or gives a value of the wrong type",
        [
            "`--set NAME=VALUE` overrides a parameter of the architecture; NAME must be one of "
            "its parameters (the suggestion names the nearest) and VALUE must have the type of "
            "the default (a whole number for `length = 1000`, true/false for a flag).",
            "A misspelled `--set` would otherwise be ignored silently and the default used.",
            "For example, `archc lint m.arch --set clases=3` on an architecture with "
            "`classes = 2`: write `--set classes=3`.",
            "This code comes from the command line, so it has no .arch example.",
        ],
        False,
    ),
    # ------------------------------------------------------------------ values
    "bad-size": (
        "a size is not a positive whole number, is too large, or does not divide",
        [
            "A size (channels, features, kernel, stride, ...) is zero, negative where it must "
            "not be (padding), not a whole number (`10 / 3`), larger than archc allows, a "
            "view/reshape size below 1 (other than -1), or `groups`/`num_groups` that do not "
            "divide the channels (or leave one value per group).",
            "PyTorch would raise when building the layer (`out_channels must be positive`, "
            "`in_channels must be divisible by groups`) or produce an empty tensor.",
            "Wrong:",
            _ex("c = conv1d(0, 5)"),
            "Right:",
            _ex("c = conv1d(8, 5)"),
        ],
        False,
    ),
    "bad-probability": (
        "a dropout probability outside [0, 1]",
        [
            "`dropout(p)` needs 0 <= p <= 1.",
            "PyTorch raises `ValueError: dropout probability has to be between 0 and 1`.",
            "Wrong:",
            _ex("dropout(1.5)"),
            "Right:",
            _ex("dropout(0.5)"),
        ],
        False,
    ),
    "bad-value": (
        "a number out of range or an argument combination PyTorch refuses",
        [
            "A value is outside what the parameter accepts: `eps <= 0`, momentum outside "
            "[0, 1], a non-finite or overflowing number, a control character in a string, "
            "`padding_idx` outside the embeddings, `align_corners` with a non-interpolating "
            "upsample mode, `size` and `scale_factor` both given, a tuple with the wrong "
            "number of values for the spatial axes.",
            "PyTorch would raise when building or running the layer, or divide by zero "
            "(`eps = 0` with a constant channel).",
            "Wrong:",
            _ex("bn = batchnorm1d(eps = 0)"),
            "Right:",
            _ex("bn = batchnorm1d(eps = 0.00001)"),
        ],
        False,
    ),
    "bad-padding": (
        "padding PyTorch refuses (same with stride, too large, bad output_padding)",
        [
            'The padding cannot be built: `padding = "same"` with a stride other than 1, a '
            "pool padding more than half its window, reflect padding not smaller than the "
            "input (circular padding larger than it), or a transposed convolution's "
            "`output_padding` not smaller than its stride or dilation.",
            "PyTorch raises at construction or at the first forward "
            "(`padding='same' is not supported for strided convolutions`).",
            "Wrong:",
            _ex('c = conv1d(8, 3, stride = 2, padding = "same")'),
            "Right:",
            _ex("c = conv1d(8, 3, stride = 2, padding = 1)"),
        ],
        False,
    ),
    "too-large": (
        "a file, a tensor, a weight or an expanded model beyond archc's limits",
        [
            "archc refuses inputs over 512 KiB, a weight or a per-sequence activation of more "
            "than 2**40 elements (4 TiB as float32), and an architecture that expands to more "
            "than 200,000 layers. See the README's Safety and limits.",
            "Such a model could not be allocated; the limits also keep archc itself fast and "
            "safe on hostile input.",
            "Wrong:",
            "arch m(classes = 2, length = 10000, alphabet = 4) {\n  flatten | fc = linear(2000000000)\n}",
            "Right:",
            "arch m(classes = 2, length = 10000, alphabet = 4) {\n  flatten | fc = linear(classes)\n}",
        ],
        False,
    ),
    "too-deep": (
        "blocks, groups or expressions nested deeper than archc handles",
        [
            "The parser accepts at most 100 levels of nesting, and the resolver at most 100 "
            "blocks, `seq` groups and residuals inside one another.",
            "The passes are recursive; the limit keeps them from exhausting the stack on "
            "hostile or generated input. Real architectures nest a few levels deep: flatten "
            "the nesting, or repeat a block with `Block(args) * N`.",
            "An example needs over a hundred nested levels, so none is shown here.",
        ],
        False,
    ),
    "encoding": (
        "the file is not UTF-8 text (or a seqgra file declares another encoding)",
        [
            "archc reads every input as UTF-8 (a leading byte-order mark is allowed). The "
            "error points at the first byte that is not UTF-8; in a seqgra .xml, at an "
            "`encoding=` declaration other than UTF-8.",
            "Save the file as UTF-8. The problem is in the file's bytes, so it has no .arch example.",
        ],
        False,
    ),
    # ------------------------------------------------------------------ shapes
    "shape-mismatch": (
        "a written size disagrees with the size archc infers",
        [
            "A layer's written input size (`conv1d(5 -> 8, 3)`, `linear(3500 -> 1000)`, "
            "`batchnorm1d(16)`, layernorm's normalized_shape) is not what its input has, or a "
            "reused layer is fed another size than at its first use. The label shows how the "
            "real size arises (e.g. 3600 = 200 channels x 18 positions after layer3).",
            "PyTorch raises `RuntimeError: mat1 and mat2 shapes cannot be multiplied` or "
            "`expected input to have 5 channels, but got 4` at the first forward.",
            "Wrong:",
            _ex("c = conv1d(5 -> 8, 3)"),
            "Right:",
            _ex("c = conv1d(4 -> 8, 3)"),
            "Or leave the input size out (`conv1d(8, 3)`) and archc infers it.",
        ],
        False,
    ),
    "too-short": (
        "a kernel, pool window, padding or crop larger than its input: the length reaches zero",
        [
            "Along an axis, the input is shorter than what the step needs: a kernel or pool "
            "window larger than the positions left, a negative padding or crop removing "
            "everything, an upsample scaling to zero. The message says the shortest input "
            "that works (`--set length=N`).",
            "PyTorch raises `RuntimeError: Kernel size can't be greater than actual input "
            "size` or `Output size is too small`.",
            "Wrong:",
            _ex("c = conv1d(8, 200)"),
            "Right:",
            _ex("c = conv1d(8, 19)"),
        ],
        False,
    ),
    "wrong-rank": (
        "a layer gets an input with the wrong number of axes",
        [
            "The layer expects an input of another rank: conv1d a 3-D (batch, channels, "
            "length) one, conv2d a 4-D one, and so on. Typically a conv after `flatten`. "
            "`repeat` with fewer factors than its input has axes is reported so too.",
            "PyTorch raises `RuntimeError: Expected 2D (unbatched) or 3D (batched) input`, or "
            "treats the batch as channels (an unbatched input).",
            "Wrong:",
            _ex("flatten | c = conv1d(8, 3)"),
            "Right:",
            _ex("c = conv1d(8, 3) | flatten"),
        ],
        False,
    ),
    "bad-axis": (
        "an axis that does not exist, or a permute that is not a reordering",
        [
            "An axis argument (permute, transpose, flatten's start_dim/end_dim, select, "
            "softmax dim, ...) is out of range for the input's rank, or a permute does not "
            "name each axis exactly once, or flatten's end_dim comes before start_dim.",
            "PyTorch raises `IndexError: Dimension out of range` or `RuntimeError: permute(): "
            "duplicate dims are not allowed`.",
            "Wrong:",
            _ex("permute(0, 2, 2)"),
            "Right:",
            _ex("permute(0, 2, 1)"),
        ],
        False,
    ),
    "reshape-size": (
        "a view or reshape whose shape does not fit the elements of each sample",
        [
            "The new shape of `view`/`reshape` does not hold the elements of one sample, gives "
            "no shape, has more than one -1 or `batch`, fixes every axis (so it works for one "
            "batch size only), or uses `batch` where axis 0 is not the batch.",
            "PyTorch raises `RuntimeError: shape '[-1, 401]' is invalid for input of size "
            "N`; a fixed batch size fails at the last, smaller batch of an epoch.",
            "Wrong:",
            _ex("view(-1, 401)"),
            "Right:",
            _ex("view(-1, 400)"),
        ],
        False,
    ),
    "view-stride": (
        "`view` of a tensor that is not laid out in axis order (after permute, transpose, ...)",
        [
            "`view` never copies: it needs the input's memory in the order of its axes. After "
            "`permute`, `transpose`, `select` or a batch-first LSTM it is not, and archc "
            "tracks each tensor's layout to know.",
            "PyTorch raises `RuntimeError: view size is not compatible with input tensor's "
            "size and stride ... Use .reshape(...) instead`.",
            "Wrong:",
            _ex("permute(0, 2, 1) | view(-1, 400)"),
            "Right:",
            _ex("permute(0, 2, 1) | reshape(-1, 400)"),
            "Or insert `contiguous` before the view.",
        ],
        False,
    ),
    "batch-mix": (
        "a step that moves data between the samples of a batch",
        [
            "The step would make one sample's output depend on the other samples of its "
            "batch: a view/reshape/flatten that merges or splits the batch axis, a layer, "
            "softmax, pool, select or reduction acting along it, `cat` along it, `stack` "
            "before it, an LSTM with the batch as its sequence axis, batchnorm with "
            "`track_running_stats = false` (batch statistics in eval mode too), `repeat` of "
            "the batch axis, or a channel dropout whose masks span samples (dropout1d on a 2-D "
            "input, which it takes for one unbatched sample, or the batch after axis 1).",
            "torch runs it without complaint, but predictions then change with the batch "
            "size and with which sequences are batched together; training and evaluation "
            "disagree.",
            "Wrong:",
            _ex("view(-1, 100)"),
            "Right:",
            _ex("view(batch, -1)"),
        ],
        False,
    ),
    "batch-squeeze": (
        "a squeeze that removes the batch axis when a batch holds one sample",
        [
            "`squeeze` without an axis squeezes every axis of size 1, and the batch axis has "
            "size 1 when a batch holds one sample; `squeeze(0)` names the batch axis itself. "
            "torch then removes the batch, and keeps it at any other batch size.",
            "The model works in training and fails, or silently computes something else, at "
            "batch size 1 (one sequence at inference, or the last batch of an epoch): a "
            "published model's `torch.squeeze(out)` followed by `torch.max(out, dim=2)` raises "
            "`Dimension out of range` there. Name the axes to squeeze.",
            "Wrong:",
            _ex("c = conv1d(8, 3) | p = adaptivemaxpool1d(1) | squeeze"),
            "Right:",
            _ex("c = conv1d(8, 3) | p = adaptivemaxpool1d(1) | squeeze(2)"),
        ],
        False,
    ),
    "merge-mismatch": (
        "cat/stack/add/mul/mean/max of tensors whose sizes disagree",
        [
            "The tensors of a merge must agree: `cat` on every axis but the one it joins, "
            "`stack` on every axis, `add`/`mul`/`mean`/`max` on every axis unless torch can "
            "broadcast them. Each operand is labelled with what set its size.",
            "PyTorch raises `RuntimeError: Sizes of tensors must match except in dimension 1` "
            "or `The size of tensor a (98) must match the size of tensor b (96)`.",
            "Wrong:",
            _ex(
                "a := c1 = conv1d(8, 3)",
                "b := x | c2 = conv1d(8, 5)",
                "cat(a, b, axis = channels)",
            ),
            "Right:",
            _ex(
                "a := c1 = conv1d(8, 3, padding = 1)",
                "b := x | c2 = conv1d(8, 5, padding = 2)",
                "cat(a, b, axis = channels)",
            ),
        ],
        False,
    ),
    "residual-mismatch": (
        "a residual body (or shortcut) whose output shape differs from its input",
        [
            "`residual { body }` adds body(x) to x (or to shortcut(x)); the two shapes must be "
            "equal or broadcast. Changing the channels or the length inside the body breaks "
            "this: give the body `padding`, or add a `shortcut { ... }` projection.",
            "PyTorch raises `RuntimeError: The size of tensor a (8) must match the size of tensor b (4)`.",
            "Wrong:",
            _ex("residual { c = conv1d(8, 3, padding = 1) }"),
            "Right:",
            _ex("residual { c = conv1d(4, 3, padding = 1) }"),
        ],
        False,
    ),
    "undefined-tensor": (
        "a chain, merge or return reads a tensor that was never named",
        [
            "A tensor name is read (at the start of a chain, in a merge, in `return`) but no "
            "`name := ...` defined it before (the help suggests the nearest tensor). A layer "
            "name is not a tensor.",
            "The generated forward would raise `NameError`.",
            "Wrong:",
            _ex("t := relu", "cat(t, tt, axis = channels)"),
            "Right:",
            _ex("t := relu", "cat(t, x, axis = channels)"),
        ],
        False,
    ),
    "lstm-in-seq": (
        "an `lstm` inside `seq`",
        [
            "nn.LSTM returns a tuple (output, (h, c)); nn.Sequential passes it on as it is, "
            "so the next module receives a tuple.",
            "PyTorch raises a TypeError in the next layer (or the seq returns a tuple).",
            "Wrong:",
            _ex("permute(0, 2, 1)", "s = seq { l = lstm(8, batch_first = true) | relu }"),
            "Right:",
            _ex("permute(0, 2, 1)", "l = lstm(8, batch_first = true) | relu"),
        ],
        False,
    ),
    "attention-in-seq": (
        "a `multiheadattention` inside `seq`",
        [
            "nn.MultiheadAttention takes three inputs (query, key, value) and returns a tuple "
            "(output, weights); nn.Sequential passes one input and passes the tuple on.",
            "PyTorch raises `TypeError: forward() missing 2 required positional arguments`.",
            "Wrong:",
            _ex("permute(0, 2, 1)", "s = seq { a = multiheadattention(4, 1) }"),
            "Right:",
            _ex("permute(0, 2, 1)", "a = multiheadattention(4, 1)"),
        ],
        False,
    ),
    "no-module-form": (
        "a tensor operation inside `seq`, or a name given to one",
        [
            "Tensor operations (view, reshape, select, cat, ...) have no nn.Module form: they "
            "cannot stand inside `seq`, which becomes nn.Sequential, and they cannot be named "
            "(a name registers a module). permute, transpose, mean, max and the global pools "
            "can: the generated file defines a module for each.",
            "nn.Sequential only holds modules; there is nothing to register or to store in a state_dict.",
            "Wrong:",
            _ex("s = seq { c = conv1d(8, 3) | view(batch, -1) }"),
            "Right:",
            _ex("s = seq { c = conv1d(8, 3) }", "view(batch, -1)"),
        ],
        False,
    ),
    "unused-layer": (
        "a registered layer that forward never uses",
        [
            "A module is registered on the class but no step of forward calls it. As a "
            "warning its weights stay in the state_dict; it is an error when its sizes "
            "depend on an input it never sees and cannot be inferred (write its input size, "
            "or use it).",
            "An unused module still counts in parameters and checkpoints, and usually means a "
            "step was forgotten.",
            "It is a safeguard: in an .arch file a layer is defined at the step that uses it, "
            "so .arch source is not expected to reach it, and no small example is shown. A "
            "lifted .py whose module forward never uses reports `unsupported` instead.",
        ],
        True,
    ),
    # ------------------------------------------------------------------ warnings (shapes)
    "axis-mix": (
        "a view/reshape that is not a pure merge or split of adjacent axes",
        [
            "The new shape regroups elements across axes in memory order, for instance after a "
            "`permute`: it mixes two axes (named in the message) instead of merging or "
            "splitting neighbours.",
            "torch accepts it, but the result interleaves values of different axes: usually a "
            "`permute` was meant instead, or the reshape belongs before the permute.",
            "Wrong:",
            _ex("permute(0, 2, 1) | reshape(-1, 4, 100)"),
            "Right:",
            _ex("reshape(-1, 400)"),
        ],
        True,
    ),
    "axis-order": (
        "a conv, linear or LSTM acting on the wrong axis (channels and length swapped)",
        [
            "A conv1d gets (batch, length, channels) and would convolve over the channels; a "
            "linear acts on the last axis but it holds the length; an LSTM runs along the "
            "channels.",
            "torch runs it when the sizes happen to fit, learning across the wrong axis, or "
            "fails at another input size. `permute(0, 2, 1)` swaps the axes.",
            "Wrong:",
            "arch m(classes = 2, length = 100, alphabet = 4) {\n"
            "  input (batch, length, channels)\n  c = conv1d(8, 3)\n}",
            "Right:",
            "arch m(classes = 2, length = 100, alphabet = 4) {\n"
            "  input (batch, length, channels)\n  permute(0, 2, 1) | c = conv1d(8, 3)\n}",
        ],
        True,
    ),
    "merge-broadcast": (
        "a merge that only works by broadcasting",
        [
            "`add`, `mul`, `mean` or `max` of tensors of different shapes that torch "
            "broadcasts (a size 1 stretched to the other's size).",
            "torch computes it silently; often a size was meant to match (e.g. 1 channel "
            "instead of 8). It is intended for gates and per-channel scales.",
            "Wrong:",
            _ex("a := c1 = conv1d(8, 1)", "b := x | c2 = conv1d(1, 1)", "add(a, b)"),
            "Right:",
            _ex("a := c1 = conv1d(8, 1)", "b := x | c2 = conv1d(8, 1)", "add(a, b)"),
        ],
        True,
    ),
    "residual-broadcast": (
        "a residual body whose shape only broadcasts to its input's",
        [
            "The body's output differs from its input but torch can broadcast one to the "
            "other (e.g. 1 channel added to 4).",
            "torch adds them without complaint; usually the body's size is a mistake.",
            "Wrong:",
            _ex("residual { c = conv1d(1, 1) }"),
            "Right:",
            _ex("residual { c = conv1d(4, 1) }"),
        ],
        True,
    ),
    "padding-too-large": (
        "padding beyond (kernel - 1) / 2: the output grows",
        [
            "A convolution pads by more than (effective kernel - 1) / 2 on an axis, so the "
            "output is longer than the input; the extra positions see only padding.",
            "torch computes it; the extra outputs are bias-only and change the sizes "
            'downstream. Use `(kernel - 1) / 2` (or `padding = "same"`) to keep the length.',
            "Wrong:",
            _ex("c = conv1d(8, 3, padding = 2)"),
            "Right:",
            _ex("c = conv1d(8, 3, padding = 1)"),
        ],
        True,
    ),
    "padding-1x1": (
        "padding on a kernel of size 1",
        [
            "A 1-wide kernel needs no padding to keep the length; padding it adds positions "
            "whose output is the bias alone.",
            "torch computes it; usually a copy-pasted `padding` argument.",
            "Wrong:",
            _ex("c = conv1d(8, 1, padding = 1)"),
            "Right:",
            _ex("c = conv1d(8, 1)"),
        ],
        True,
    ),
    "pool-drops": (
        "a pool whose window and stride do not divide the input: it drops the last positions",
        [
            "With `ceil_mode = false` (the default), a pool drops the positions that do not "
            "fill a last window. The note shows where the input size was set.",
            "torch drops them silently: the end of every sequence is never seen downstream. "
            "Often harmless (a position or two); fix it by choosing the length or the window, "
            "or set `ceil_mode = true`.",
            "Wrong:",
            _ex("p = maxpool1d(3)"),
            "Right:",
            _ex("p = maxpool1d(4)"),
        ],
        True,
    ),
    "squeeze-noop": (
        "a squeeze of an axis whose size is not 1: it does nothing",
        [
            "`squeeze(dim)` removes the axis only when its size is 1; torch leaves any other "
            "axis as it is, without an error. When the size follows the length, it is 1 at "
            "some lengths only, and the rank after it changes with the length.",
            "It is almost always a mistake: the wrong axis, or a squeeze before the pool that "
            "was meant to bring the axis to 1.",
            "Wrong:",
            _ex("c = conv1d(8, 3) | squeeze(1)"),
            "Right:",
            _ex("c = conv1d(8, 3) | p = adaptivemaxpool1d(1) | squeeze(2)"),
        ],
        True,
    ),
    "dropout-rank": (
        "dropout2d on an input that is not 4-D",
        [
            "nn.Dropout2d zeroes whole channels of (batch, channels, height, width). On a 3-D "
            "input torch warns and takes it for (batch, channels, length), as dropout1d does; "
            "on a 2-D input it drops single values, as dropout does; on a 5-D or larger one it "
            "warns and zeroes whole channels of axis 1.",
            "torch warns that this is deprecated and will become an error; the layer meant is "
            "dropout1d (3-D) or dropout (2-D).",
            "Wrong:",
            _ex("c = conv1d(8, 3) | dropout2d(0.2)"),
            "Right:",
            _ex("c = conv1d(8, 3) | dropout1d(0.2)"),
        ],
        True,
    ),
    "length-pinned": (
        "a written size that depends on the input length, so only one length works",
        [
            "A linear's written input size equals channels x positions at this input length; "
            "at any other `length` the model breaks. Left out, archc infers it for each "
            "length.",
            "In torch the model works at exactly one input length; `archc lint --lengths` tells which.",
            "Wrong:",
            _ex("flatten | fc = linear(400 -> classes)"),
            "Right:",
            _ex("flatten | fc = linear(classes)"),
        ],
        True,
    ),
    "chained-output": (
        "a chain continues from a returned tensor instead of reading what it should",
        [
            "A chain that does not start with a tensor name continues from the current tensor; "
            "right after `a := ...`, that is `a`. When `a` is also returned, the next head is "
            "usually meant to read the trunk, not `a`.",
            "torch runs it, but the second output is computed from the first: the heads chain "
            "instead of branching.",
            "Wrong:",
            _ex(
                "flatten",
                "t := relu",
                "a := t | fa = linear(2)",
                "b := fb = linear(1)",
                "return a, b",
            ),
            "Right:",
            _ex(
                "flatten",
                "t := relu",
                "a := t | fa = linear(2)",
                "b := t | fb = linear(1)",
                "return a, b",
            ),
        ],
        True,
    ),
    "chained-heads": (
        "a head that reads the single output of the head written before it",
        [
            "A linear without a written input size reads one feature that a linear with one "
            "output just produced: two heads written one after the other chain into each "
            "other.",
            "torch runs it, computing the second head from the first's single number. Name "
            "the trunk and start each head with it; write `linear(1 -> ...)` if one feature "
            "is meant.",
            "Wrong:",
            _ex("flatten", "fa = linear(1)", "fb = linear(1)"),
            "Right:",
            _ex(
                "flatten",
                "t := relu",
                "a := t | fa = linear(1)",
                "b := t | fb = linear(1)",
                "return a, b",
            ),
        ],
        True,
    ),
    "unused-tensor": (
        "a named tensor that nothing reads",
        [
            "A `name := ...` tensor is never read by a chain or a merge and not returned.",
            "Its computation still runs in forward, for nothing; often a head or a branch was forgotten.",
            "Wrong:",
            _ex("t := relu", "y := x | c = conv1d(8, 3)"),
            "Right:",
            _ex("y := x | c = conv1d(8, 3)"),
        ],
        True,
    ),
    "unused-input": (
        "an input that nothing reads",
        [
            "A second (or later) input is declared but no chain reads it.",
            "forward() still takes the argument, so callers must pass a tensor that is ignored.",
            "Wrong:",
            _ex("input (batch, channels, length)", "input f (batch, features: 10)", "relu"),
            "Right:",
            _ex("input (batch, channels, length)", "relu"),
        ],
        True,
    ),
    "bad-key": (
        "an output key that cannot be written",
        [
            "`return {key: name, ...}` returns a dict; each key is written into the generated "
            "code, its comments and diagrams, so it must be plain text (1 to 64 letters, digits, "
            "`_`, `-` and `.`) and given once.",
            "Wrong:",
            _ex("flatten", "y := fc = linear(1)", 'return {"log counts": y}'),
            "Right:",
            _ex("flatten", "y := fc = linear(1)", 'return {"log-counts": y}'),
        ],
        False,
    ),
    "duplicate-output": (
        "a tensor returned twice",
        [
            "`return` names the same tensor more than once.",
            "forward() returns the same tensor twice; usually another output was meant.",
            "Wrong:",
            _ex("flatten", "y := fc = linear(1)", "return y, y"),
            "Right:",
            _ex("flatten", "y := fc = linear(1)", "return y"),
        ],
        True,
    ),
    "unused-allow": (
        "an `archc: allow(...)` comment that acknowledges no warning",
        [
            "A comment `# archc: allow(CODE)` acknowledges the warnings with that code on its "
            "line (or, alone on a line, on the next line with code); `allow-file(CODE)` does "
            "so for the whole file. This one matched none: the warning is gone, the code is "
            "misspelled, or it names an error, which cannot be allowed.",
            "A stale acknowledgement would silently hide the next warning of that kind.",
            "Wrong:",
            _ex("flatten  # archc: allow(pool-drops)", "fc = linear(2)"),
            "Right:",
            _ex("flatten", "fc = linear(2)"),
        ],
        True,
    ),
    # ------------------------------------------------------------------ PyTorch import
    "internal": (
        "archc failed while lifting a PyTorch file: a bug in archc",
        _torch(
            "Lifting the .py file raised an unexpected exception.",
            "This is a bug in archc, not in the file.",
            "Please report it with the file; meanwhile write the architecture as .arch.",
        ),
        False,
    ),
    "no-class": (
        "the PyTorch file has no (such) nn.Module subclass",
        _torch(
            "The .py file defines no nn.Module subclass, or the class asked for (`--class`, "
            "a seqgra `classname`) does not exist or is not an nn.Module subclass.",
            "archc lifts one nn.Module class; without one there is no model.",
            "Pick an existing class with `--class NAME` (the help lists them).",
        ),
        False,
    ),
    "ambiguous-class": (
        "the PyTorch file has several candidate model classes",
        _torch(
            "Several nn.Module classes could be the model (none named TorchModel, and more "
            "than one not used by another).",
            "archc will not guess which class is the model.",
            "Pick one with `--class NAME`.",
        ),
        False,
    ),
    "unsupported": (
        "a construct archc cannot import faithfully (PyTorch or seqgra)",
        [
            "The importer met something it cannot turn into an .arch without changing the "
            "model: in a .py, Python it does not follow statically (data-dependent control "
            "flow, opaque values, too much computation, a module used in two places without a "
            "name, a module forward never uses: its weights would be lost); in a seqgra .xml, "
            "architecture `<hyperparameters>`, saved Keras models, Bayes optimal classifiers, "
            "or a Keras attribute with no .arch equivalent.",
            "Importing it anyway would give a model whose weights or outputs differ from the original.",
            "Rewrite that part in the plain forms archc reads, or write the architecture in .arch directly.",
            "This code comes from importing a .py or a seqgra .xml; an .arch file never produces it.",
        ],
        False,
    ),
    "no-length": (
        "no input length fits the sizes written in a PyTorch file",
        _torch(
            "A lifted module writes an input size (a Linear's in_features, a view's size) that "
            "depends on the input length, and no length gives it; the help names the nearest "
            "lengths.",
            "The module fails in torch at every length.",
            "Correct the size, or pass `--set length=N` to see the mismatch at one length.",
        ),
        False,
    ),
    "length-unknown": (
        "nothing in the PyTorch file fixes the input length; archc assumes one",
        _torch(
            "The lifted model works at many lengths and nothing written pins one, so archc "
            "picks a default to check the shapes.",
            "The shapes shown are for the assumed length, which may not be the real one.",
            "Pass `--set length=N` for the real length.",
        ),
        True,
    ),
    # ------------------------------------------------------------------ seqgra import
    "xml-syntax": (
        "the seqgra file is not well-formed XML",
        _seqgra(
            "The XML parser could not read the document (an unclosed tag, a stray `&`, ...).",
            "Nothing can be read from malformed XML.",
            "Fix the XML; archc reads well-formed seqgra model definitions only.",
        ),
        False,
    ),
    "xml-too-deep": (
        "the seqgra XML nests elements too deeply",
        _seqgra(
            "The document nests elements deeper than archc reads (12 levels).",
            "seqgra model definitions nest 4 levels deep; deeper nesting is not a model "
            "definition and is refused to keep the reader safe.",
            "Use a real seqgra model definition.",
        ),
        False,
    ),
    "xml-too-large": (
        "the seqgra XML file is larger than archc reads",
        _seqgra(
            "The document is larger than archc's limit for model definitions.",
            "Model definitions are a few kilobytes; the limit keeps the reader safe.",
            "Use the model definition, not a data file.",
        ),
        False,
    ),
    "xml-unsafe": (
        "the seqgra XML contains a DTD or entity declaration",
        _seqgra(
            "The document has a `<!DOCTYPE>` or `<!ENTITY>` declaration.",
            "Entities allow billion-laughs and external-entity attacks; model definitions "
            "never need them, so archc refuses them.",
            "Remove the declaration.",
        ),
        False,
    ),
    "unknown-element": (
        "an element seqgra does not define at this place",
        _seqgra(
            "An element is not part of seqgra's schema here (or the root is not "
            "`<seqgramodel>`: a data definition is not a model).",
            "seqgra itself would refuse the document.",
            "Remove or rename the element (the message says what the parent holds).",
        ),
        False,
    ),
    "unknown-attribute": (
        "an attribute seqgra does not define on this element",
        _seqgra(
            "The attribute is not part of seqgra's schema on this element.",
            "seqgra would refuse the document or ignore the attribute.",
            "Remove or correct the attribute.",
        ),
        False,
    ),
    "missing-element": (
        "a required seqgra element is missing or empty",
        _seqgra(
            "A required element is absent: `<labels>` without labels, an empty "
            "`<architecture>`, an `<external>` naming no file, ...",
            "The model cannot be built without it.",
            "Add the element the message names.",
        ),
        False,
    ),
    "missing-attribute": (
        "a required seqgra attribute is missing",
        _seqgra(
            "An element or an operation lacks a required attribute: the first operation's "
            "`input_shape`, `<external>`'s `classname`, a layer's size.",
            "Keras or seqgra could not build the model.",
            "Add the attribute the message names.",
        ),
        False,
    ),
    "duplicate-element": (
        "a seqgra element, label or hyperparameter appears twice",
        _seqgra(
            "An element that may appear once appears twice, a label is listed twice, or a "
            "hyperparameter is given twice.",
            "seqgra would keep only one of them, or mix up the classes.",
            "Keep one.",
        ),
        False,
    ),
    "element-order": (
        "seqgra elements in the wrong order",
        _seqgra(
            "seqgra's schema fixes the order of elements inside a parent; this one comes "
            "after an element it must precede.",
            "seqgra would refuse the document.",
            "Reorder the elements as the help lists.",
        ),
        False,
    ),
    "unexpected-text": (
        "text where seqgra expects elements or attributes only",
        _seqgra(
            "An element that holds elements (or `<pattern>`, which takes attributes only) contains text.",
            "The text would be ignored by seqgra; usually a misplaced value.",
            "Move the text into the element it belongs to, or remove it.",
        ),
        False,
    ),
    "unknown-operation": (
        "a seqgra `<operation>` names no Keras layer archc knows",
        _seqgra(
            "The `<operation>` is empty or names a Keras layer archc cannot translate.",
            "There is no layer to build.",
            'Write a supported Keras layer, e.g. `<operation units="10">Dense</operation>`.',
        ),
        False,
    ),
    "bad-shape": (
        "a seqgra operation gets an input with the wrong number of axes",
        _seqgra(
            "A Keras operation needs an input of another rank than it gets at this point.",
            "Keras would refuse to build the model.",
            "Add a Flatten or Reshape before it, or fix the operation.",
        ),
        False,
    ),
    "missing-file": (
        "the PyTorch module named by a seqgra `<external>` does not exist",
        _seqgra(
            "`<external>` points at a .py file that is not there (the message shows the path "
            "looked for, relative to the .xml).",
            "The model cannot be read.",
            "Correct the path or put the file there.",
        ),
        False,
    ),
    "not-available": (
        "lifting PyTorch modules is not available in this archc",
        _seqgra(
            "The seqgra definition points at an external PyTorch module, but this archc "
            "cannot load its PyTorch lifter.",
            "The module cannot be read.",
            "Use an archc with PyTorch import, or write the architecture as .arch.",
        ),
        False,
    ),
    "ignored-attribute": (
        "`input_shape` on a later seqgra operation is ignored",
        _seqgra(
            "Only the first operation's `input_shape` counts; Keras ignores it on later "
            "layers, and so does archc.",
            "A later `input_shape` has no effect and may disagree with the real shape.",
            "Remove it.",
        ),
        True,
    ),
    "label-count": (
        "the model's outputs and the seqgra labels disagree in number",
        _seqgra(
            "The last Dense layer (or the external module's classes) gives another number of "
            "outputs than the definition's labels name.",
            "seqgra needs one output per label; training would fail or mislabel classes.",
            "Make the outputs match the labels.",
        ),
        True,
    ),
    "library": (
        "an inline seqgra `<sequential>` model with a library other than TensorFlow",
        _seqgra(
            "seqgra runs inline `<sequential>` models with TensorFlow only; this definition "
            "names another library.",
            "archc reads the operations as Keras layers anyway; seqgra would not run it.",
            "Set the library to TensorFlow, or use `<external>` for a PyTorch module.",
        ),
        True,
    ),
    "softmax-dropped": (
        "the final softmax or sigmoid of a seqgra model is left out: the module returns logits",
        _seqgra(
            "archc does not translate a final softmax or sigmoid activation.",
            "PyTorch losses (CrossEntropyLoss, BCEWithLogitsLoss) take logits, so the "
            "generated module returns them; apply softmax or sigmoid to get probabilities.",
            "Nothing to fix if logits are what the training uses.",
        ),
        True,
    ),
    "metadata-lossy": (
        "seqgra metadata holds characters an .arch string cannot hold",
        _seqgra(
            "A text field (a description, a label) holds control or other characters that "
            "an .arch string cannot carry; they are dropped or replaced.",
            "The imported metadata differs slightly from the original.",
            "Remove the characters from the .xml if the exact text matters.",
        ),
        True,
    ),
}


def _build() -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for code, (summary, parts, warning) in sorted(_RAW.items()):
        out[code] = (summary, _format(summary, parts, warning))
    return out


# code -> (one-line summary, long text)
EXPLANATIONS: dict[str, tuple[str, str]] = _build()


def normalize(code: str) -> str:
    """`error[merge-mismatch]`, `Merge-Mismatch`, ` merge_mismatch ` -> `merge-mismatch`."""
    text = code.strip().lower()
    for prefix in ("error[", "warning["):
        if text.startswith(prefix) and text.endswith("]"):
            text = text[len(prefix) : -1]
    return text.strip().replace("_", "-")


def lookup(code: str) -> tuple[str, str] | None:
    """The (summary, long text) of a code, in any of the accepted spellings, or None."""
    return EXPLANATIONS.get(normalize(code))


def suggestion(code: str) -> str | None:
    return did_you_mean(normalize(code), EXPLANATIONS)


def listing() -> str:
    """Every code with its one-line summary, one a line."""
    width = max(len(code) for code in EXPLANATIONS)
    return "\n".join(f"{code:<{width}}  {summary}" for code, (summary, _) in EXPLANATIONS.items())
