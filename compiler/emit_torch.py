"""Emit a checked architecture as a black-formatted PyTorch module (Jinja template + black)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from . import ir
from .layers import lookup
from .values import Value, py

FUNCTIONAL = {
    "relu": "F.relu",
    "sigmoid": "torch.sigmoid",
    "tanh": "torch.tanh",
    "softmax": "F.softmax",
    "log_softmax": "F.log_softmax",
    "dropout": "F.dropout",
    "maxpool1d": "F.max_pool1d",
    "maxpool2d": "F.max_pool2d",
    "avgpool1d": "F.avg_pool1d",
    "avgpool2d": "F.avg_pool2d",
    "adaptivemaxpool1d": "F.adaptive_max_pool1d",
}


@dataclass(frozen=True)
class EmitOptions:
    """How to emit a module beyond its architecture (speed-oriented variants)."""

    memory_format: str = "contiguous"  # or "channels_last"
    fold_batchnorm: bool = False  # add a fold_batchnorm() method for inference


def _meta_repr(value: Any) -> str:
    """Python source for metadata: only plain data, every string through repr()."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_meta_repr(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_meta_repr(v) for v in value) + "]"
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    raise TypeError(f"unexpected metadata value {value!r}")


@dataclass
class _ClassCode:
    name: str
    doc: str
    init: list[str]
    forward: list[str]


@dataclass
class _Emitter:
    """Renders classes in dependency order; identical block instances share a class."""

    classes: list[_ClassCode] = field(default_factory=list)
    by_key: dict[tuple[str, tuple[str, ...], tuple[str, ...]], _ClassCode] = field(default_factory=dict)
    shapes_by_key: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[list[ir.Shape]]] = field(
        default_factory=dict
    )
    names_used: dict[str, int] = field(default_factory=dict)
    uses_functional: bool = False

    # ---------------------------------------------------------------- modules

    def module_expr(self, module: ir.ModuleExpr) -> str:
        if isinstance(module, ir.AttrRef):
            return f"self.{module.name}"
        if isinstance(module, ir.Sequential):
            return "nn.Sequential(" + ", ".join(self.module_expr(m) for m in module.items) + ")"
        if isinstance(module, ir.BlockRef):
            return f"{self.block_class(module.cls)}()"
        return layer_module(module)

    def block_class(self, cls: ir.ClassDef) -> str:
        code, shapes = self.class_code(cls, cls.name)
        key = (cls.name, tuple(code.init), tuple(code.forward))
        if key in self.by_key:
            self.shapes_by_key[key].append(shapes)
            return self.by_key[key].name
        count = self.names_used.get(cls.name, 0) + 1
        self.names_used[cls.name] = count
        code.name = cls.name if count == 1 else f"{cls.name}_{count}"
        args = ", ".join(f"{k}={py(v)}" for k, v in cls.params)
        code.doc = f"Block `{cls.name}`" + (f" with {args}" if args else "") + "."
        self.by_key[key] = code
        self.shapes_by_key[key] = [shapes]
        self.classes.append(code)
        return code.name

    # ---------------------------------------------------------------- classes

    def class_code(self, cls: ir.ClassDef, name: str) -> tuple[_ClassCode, list[ir.Shape]]:
        init: list[str] = []
        for attr in cls.attrs:
            if isinstance(attr.module, ir.Layer) and attr.module.comment:
                init.append(f"# {attr.module.comment}")
            init.append(f"self.{attr.name} = {self.module_expr(attr.module)}")
        forward: list[str] = []
        shapes: list[ir.Shape] = []
        self.forward_ops(cls, cls.forward, forward, shapes, depth=0)
        return _ClassCode(name, "", init, forward), shapes

    def forward_ops(
        self,
        cls: ir.ClassDef,
        ops: tuple[ir.Op, ...],
        lines: list[str],
        shapes: list[ir.Shape],
        depth: int,
    ) -> None:
        for op in ops:
            if isinstance(op, ir.CallAttr):
                attr = cls.attr(op.name)
                is_lstm = (
                    attr is not None and isinstance(attr.module, ir.Layer) and attr.module.kind == "lstm"
                )
                target = "x, _" if is_lstm else "x"
                lines.append(f"{target} = self.{op.name}(x)")
            elif isinstance(op, ir.Functional):
                lines.append(f"x = {self.functional(op.layer)}")
            else:
                var = "identity" if depth == 0 else f"identity{depth}"
                lines.append(f"{var} = x")
                shapes.append(())
                self.forward_ops(cls, op.body, lines, shapes, depth + 1)
                lines.append(f"x = x + {var}")
            shapes.append(op.shape)

    def functional(self, layer: ir.Layer) -> str:
        kind = layer.kind
        if kind in FUNCTIONAL:
            self.uses_functional = self.uses_functional or FUNCTIONAL[kind].startswith("F.")
            args = ["x", *_kwargs(layer)]
            if kind == "dropout":
                args.append("training=self.training")
            return f"{FUNCTIONAL[kind]}({', '.join(args)})"
        if kind == "flatten":
            return f"torch.flatten({', '.join(['x', *_flatten_args(layer)])})"
        if kind in ("view", "reshape", "permute"):
            values = layer.get("shape" if kind != "permute" else "dims")
            assert isinstance(values, tuple)
            items = ["x.size(0)" if v == "batch" else py(v) for v in values]
            return f"x.{kind}({', '.join(items)})"
        if kind == "transpose":
            return f"x.transpose({py(layer.get('dim0'))}, {py(layer.get('dim1'))})"
        if kind == "select":
            return f"x.select({py(layer.get('dim'))}, {py(layer.get('index'))})"
        if kind == "contiguous":
            return "x.contiguous()"
        if kind == "global_max_pool":
            return "x.amax(dim=-1)"
        raise AssertionError(f"no functional form for {kind}")  # pragma: no cover


def _is_default(layer: ir.Layer, name: str, value: Value) -> bool:
    spec = lookup(layer.kind)
    assert spec is not None
    pspec = spec.param(name)
    return pspec is not None and pspec.default == value and type(pspec.default) is type(value)


def _kwargs(layer: ir.Layer) -> list[str]:
    spec = lookup(layer.kind)
    assert spec is not None
    out = []
    for name, value in layer.args:
        if name in (spec.size_in, spec.size_out):
            continue
        if _is_default(layer, name, value) and name not in layer.explicit:
            continue
        out.append(f"{name}={py(value)}")
    return out


def _flatten_args(layer: ir.Layer) -> list[str]:
    start, end = layer.get("start_dim"), layer.get("end_dim")
    if end != -1:
        return [py(start), py(end)]
    return [py(start)]


def layer_module(layer: ir.Layer) -> str:
    """The constructor call of a layer's module form, e.g. `nn.Conv1d(4, 320, kernel_size=8)`."""
    spec = lookup(layer.kind)
    assert spec is not None and spec.torch_class is not None
    args = [py(layer.get(n)) for n in (spec.size_in, spec.size_out) if n is not None]
    return f"nn.{spec.torch_class}({', '.join([*args, *_kwargs(layer)])})"


def _merge_shapes(instances: list[list[ir.Shape]]) -> list[str]:
    """Shape comments for a class used at several sizes: differing axes show their name."""
    merged = []
    for step in zip(*instances, strict=True):
        first = step[0]
        if not first:
            merged.append("")
            continue
        dims = []
        for i, dim in enumerate(first):
            sizes = {s[i].size for s in step if len(s) > i}
            dims.append(dim.show() if len(sizes) == 1 else dim.label)
        merged.append("(" + ", ".join(dims) + ")")
    return merged


def _with_comments(lines: list[str], comments: list[str]) -> list[str]:
    return [f"{line}  # {c}" if c else line for line, c in zip(lines, comments, strict=True)]


@lru_cache(maxsize=1)
def _template() -> Any:
    from importlib import resources

    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: resources.files("archc.templates").joinpath(name).read_text(encoding="utf-8")
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - the output is Python, every value is validated or repr()'d
    )
    return env.get_template("torch_module.py.jinja")


def render_python(
    arch: ir.Architecture,
    source_name: str,
    class_name: str = "TorchModel",
    options: EmitOptions | None = None,
) -> str:
    """The module source before formatting."""
    options = options or EmitOptions()
    if options != EmitOptions():
        raise NotImplementedError("memory_format / fold_batchnorm emission is not implemented yet")
    em = _Emitter()
    top, top_shapes = em.class_code(arch.cls, class_name)
    for key, code in em.by_key.items():
        code.forward = _with_comments(code.forward, _merge_shapes(em.shapes_by_key[key]))
    top.forward = _with_comments(top.forward, [ir.show_shape(s) if s else "" for s in top_shapes])
    out_shape = arch.cls.out_shape
    top.doc = (
        f"Architecture `{arch.name}`: input {ir.show_shape(arch.input_shape)} "
        f"{ir.show_axes(arch.input_shape)}, output {ir.show_shape(out_shape)}."
    )
    imports = ["import torch"]
    if em.uses_functional:
        imports.append("import torch.nn.functional as F")
    imports.append("from torch import nn")
    return str(
        _template().render(
            source=source_name,
            arch=arch.name,
            params=", ".join(f"{k}={py(v)}" for k, v in arch.params) or "none",
            in_shape=ir.show_shape(arch.input_shape),
            in_axes=ir.show_axes(arch.input_shape),
            out_shape=ir.show_shape(out_shape),
            imports=imports,
            metadata=_meta_repr(arch.meta) if arch.meta else "",
            classes=[*em.classes, top],
        )
    )


def format_python(code: str) -> str:
    """black-format generated code (black is imported only here, when emitting)."""
    import black

    return black.format_str(code, mode=black.Mode(line_length=88))


def emit(
    arch: ir.Architecture,
    source_name: str,
    class_name: str = "TorchModel",
    options: EmitOptions | None = None,
) -> str:
    """The final, formatted module source."""
    return format_python(render_python(arch, source_name, class_name, options))
