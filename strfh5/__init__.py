"""strfh5: an open HDF5 format and reader for stimulus/neural-response datasets.

The public API is re-exported here; users never need to import submodules.
See SPEC.md for the file format and README.md for a tour.

>>> import strfh5
>>> from torch.utils.data import DataLoader
>>> ds = strfh5.load("demo.strf.h5", lazy=True)
>>> loader = DataLoader(ds, batch_size=4, collate_fn=strfh5.neural_collate)
>>> batch = next(iter(loader))
>>> tuple(batch["responses"].shape[:2])
(4, 16)
"""

from importlib import import_module as _import_module

from . import errors, layout, schema
from .build import contents_from_lists
from .contents import Contents, FileContents, MemoryContents
from .errors import *  # noqa: F401,F403 - the exception hierarchy is public API
from .leftovers import clean_leftovers
from .records import Events, FileInfo
from .version import __version__
from .saving import save
from .writer import StreamWriter, add_index

# Public names defined in modules that import torch/matplotlib: resolved on
# first access so `import strfh5` stays cheap (module -> names).
_LAZY = {
    "reader": ("load", "from_lists"),
    "dataset": ("NeuralDataset", "AudioNeuralDataset"),
    "video": ("VideoNeuralDataset",),
    "collate": ("neural_collate",),
    "concatenation": ("concat_neural_datasets", "concat", "materialize"),
    "validation": ("validate", "ValidationReport", "Finding"),
    "fileinfo": ("info",),
    "quality": ("compute_neuron_quality",),
    "plotting": ("plot_stim_with_response", "plot_coverage"),
    "simulate": ("simulate_dataset", "write_simulated"),
    "rewriting": ("rewrite",),  # the module is not named rewrite: strfh5.rewrite is the function
}
_LAZY_NAMES = {name: mod for mod, names in _LAZY.items() for name in names}


def __getattr__(name):
    mod = _LAZY_NAMES.get(name)
    if mod is None:
        if name in ("metrics",):
            return _import_module(f".{name}", __name__)
        raise AttributeError(f"module 'strfh5' has no attribute {name!r}")
    value = getattr(_import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY_NAMES) | {"metrics"})


__all__ = [
    "__version__",
    "errors",
    "layout",
    "schema",
    "contents_from_lists",
    "save",
    "add_index",
    "StreamWriter",
    "clean_leftovers",
    "Contents",
    "MemoryContents",
    "FileContents",
    "FileInfo",
    "Events",
    *_LAZY_NAMES,
] + errors.__all__
