"""The package's architecture (ARCHITECTURE.md): layers import downward only, no import cycle,
no hidden function-level imports, modules and functions of readable size, one read path."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import strfh5

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"strfh5": ROOT / "strfh5", "strfh5.converters": ROOT / "converters"}

#: layer of each module (by longest matching prefix): imports go to the same layer or below
LAYERS = {
    0: ("strfh5.version", "strfh5.errors", "strfh5.layout", "strfh5.arguments", "strfh5.records",
        "strfh5.schema", "strfh5.spectrogram", "strfh5.optional", "strfh5.jsonsafe", "strfh5.terminal", "strfh5.flushing"),
    1: ("strfh5.h5io", "strfh5.heapcheck"),
    2: ("strfh5.contents", "strfh5.binning", "strfh5.histogram", "strfh5.elements", "strfh5.vlen_sink", "strfh5.writer",
        "strfh5.build", "strfh5.annotate", "strfh5.subsetting", "strfh5.index_writer", "strfh5.leftovers", "strfh5.saving"),
    3: ("strfh5.metrics", "strfh5.transforms", "strfh5.collate", "strfh5.selection", "strfh5.rows",
        "strfh5.quality", "strfh5.concatenation.rules", "strfh5.concatenation.contents",
        "strfh5.concatenation.memory", "strfh5.concatenation.loaded", "strfh5.contract", "strfh5.dataset",
        "strfh5.video", "strfh5.reader", "strfh5.fileinfo", "strfh5.stim_cache",
        "strfh5.plotting", "strfh5.simulate", "strfh5.utils", "strfh5.nwb_export", "strfh5.nwb_layout",
        "strfh5.rewriting"),
    4: ("strfh5.concatenation",),
    5: ("strfh5.validation",),
    6: ("strfh5.converters",),
    7: ("strfh5.cli", "strfh5.__main__", "strfh5"),
}
#: modules allowed function-level imports of strfh5 modules, and why
LOCAL_IMPORTS_OK = {
    "strfh5.cli": "start-up speed: each command imports what it runs",
    "strfh5.__main__": "start-up speed",
}
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 100


def _modules() -> dict[str, Path]:
    out = {}
    for pkg, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([pkg, *parts])] = path
    return out


MODULES = _modules()


def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> list[str]:
    if node.level:
        base = mod.split(".") if is_pkg else mod.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    names = [f"{target}.{a.name}" for a in node.names]
    return [n for n in names if n in MODULES] or ([target] if target in MODULES else [])


def _imports(mod: str) -> list[tuple[str, bool, int]]:
    """(imported strfh5 module, at module level?, line) of ``mod``."""
    path = MODULES[mod]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = set(map(id, tree.body))
    for node in tree.body:  # imports inside module-level if/try blocks count as module level
        if isinstance(node, (ast.If, ast.Try)):
            top |= {id(n) for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))}
    out = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.ImportFrom):
            targets = _resolve(mod, path.name == "__init__.py", node)
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name in MODULES]
        out += [(t, id(node) in top, node.lineno) for t in targets if t != mod]
    return out


def _layer(mod: str) -> int:
    best, layer = -1, None
    for k, prefixes in LAYERS.items():
        for p in prefixes:
            if (mod == p or mod.startswith(p + ".")) and len(p) > best:
                best, layer = len(p), k
    assert layer is not None, f"{mod} has no layer in tests/test_architecture.py (and ARCHITECTURE.md)"
    return layer


def test_every_module_has_a_layer():
    for mod in MODULES:
        _layer(mod)


def test_layers_import_downward_only():
    bad = [f"{m} (layer {_layer(m)}) imports {t} (layer {_layer(t)}) at line {line}"
           for m in MODULES for t, _top, line in _imports(m) if _layer(t) > _layer(m)]
    assert not bad, "\n".join(bad)


def test_no_import_cycle():
    graph = {m: sorted({t for t, _top, _l in _imports(m)}) for m in MODULES}
    # a package's __init__ re-exports its submodules: importing a submodule is not importing the package
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(m: str, stack: list[str]) -> bool:
        state[m] = 1
        for t in graph[m]:
            if t.startswith(m + ".") or m.startswith(t + ".") and MODULES[t].name == "__init__.py":
                continue
            if state.get(t) == 1:
                cycle.extend(stack[stack.index(t):] + [t] if t in stack else [m, t])
                return True
            if state.get(t) is None and visit(t, stack + [t]):
                return True
        state[m] = 2
        return False

    for m in graph:
        if state.get(m) is None and visit(m, [m]):
            break
    assert not cycle, " -> ".join(cycle)


def test_no_hidden_function_level_imports():
    bad = []
    for m in MODULES:
        if any(m == p or m.startswith(p + ".") for p in LOCAL_IMPORTS_OK):
            continue
        bad += [f"{m}:{line} imports {t} inside a function" for t, top, line in _imports(m) if not top]
    assert not bad, "\n".join(bad)


def test_modules_in_dependency_order_import_in_a_fresh_interpreter():
    order = sorted((m for m in MODULES if m != "strfh5.__main__"), key=lambda m: (_layer(m), m))
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    r = subprocess.run([sys.executable, "-c", code, *order], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]


def _code_lines(fn: ast.FunctionDef) -> int:
    """Lines of a function without its docstring (numpydoc docstrings are long on purpose)."""
    n = fn.end_lineno - fn.lineno + 1
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        n -= body[0].end_lineno - body[0].lineno + 1
    return n


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{path.relative_to(ROOT)}:{n.lineno} {n.name} ({_code_lines(n)} lines without the docstring)"
            for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and _code_lines(n) > MAX_FUNCTION_LINES]


def test_sizes():
    too_long = []
    for mod, path in MODULES.items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if lines > MAX_MODULE_LINES and "splitting hurts reading" not in doc:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not too_long, "modules over 600 lines without a reason in their docstring:\n" + "\n".join(too_long)
    functions = [f for path in MODULES.values() for f in _long_functions(path)]
    assert not functions, "functions over 100 lines:\n" + "\n".join(functions)


def test_read_path_h5py_only_in_the_io_layer():
    """On the read path only the I/O layer calls h5py (the writer, validator and converters have their own jobs)."""
    read_path = [m for m in MODULES if _layer(m) in (2, 3) and m.split(".")[1] not in
                 ("writer", "vlen_sink", "annotate", "simulate", "nwb_export", "remote")]
    users = [m for m in read_path if "h5py" in {a.name.split(".")[0] for n in ast.walk(ast.parse(
        MODULES[m].read_text(encoding="utf-8"))) if isinstance(n, ast.Import) for a in n.names}
        | {n.module.split(".")[0] for n in ast.walk(ast.parse(MODULES[m].read_text(encoding="utf-8")))
           if isinstance(n, ast.ImportFrom) and n.module and not n.level}]
    assert not users, f"h5py imported on the read path outside strfh5.h5io: {users}"


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("arch") / "demo.strf.h5"
    strfh5.write_simulated(str(path), preset="demo", seed=3)
    return str(path)


def test_one_lazy_item_passes_dataset_io_binning_dataset_collate(demo_file):
    """A lazy item reads its stimulus and its row through the I/O layer once each, bins, then collates."""
    ds = strfh5.load(demo_file, lazy=True)
    ds[0]  # warm up: the handle opens on first use
    layer_of = {"dataset": "dataset", "rows": "dataset", "selection": "dataset", "binning": "binning",
                "collate": "collate", "contents": "io", "h5io": "io"}
    seq: list[str] = []

    def prof(frame, event, _arg):
        if event != "call":
            return
        name = frame.f_globals.get("__name__", "")
        part = name.split(".")[1] if name.startswith("strfh5.") else None
        layer = layer_of.get(part)
        if layer and (not seq or seq[-1] != layer):
            seq.append(layer)

    sys.setprofile(prof)
    try:
        batch = strfh5.neural_collate([ds[1]])
    finally:
        sys.setprofile(None)
        ds.close()
    assert batch["responses"].shape[0] == 1
    assert seq.count("io") == 2, seq  # the stimulus, then the raw row
    for i, layer in enumerate(seq):
        if layer == "io":
            assert seq[i - 1] in ("dataset", "binning") and seq[i + 1] == "binning", seq
    first_collate = seq.index("collate")
    assert "io" not in seq[first_collate:] and "binning" not in seq[first_collate:], seq
    assert seq[:first_collate][-1] == "dataset", seq
