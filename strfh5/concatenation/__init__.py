"""Concatenation, in memory and on disk (seed 002, SPEC §9).

* :mod:`~strfh5.concatenation.rules` — what inputs must share (both ways);
* :mod:`~strfh5.concatenation.contents` — :class:`ConcatContents`, the raw
  content of a block-diagonal concatenation of contents;
* :mod:`~strfh5.concatenation.memory` — :func:`concat_neural_datasets` (``a + b``);
* :mod:`~strfh5.concatenation.disk` — :func:`concat`, virtual datasets, no copy;
* :mod:`~strfh5.concatenation.materialize` — :func:`materialize`, a
  self-contained copy of a concatenated file.
"""

from .contents import ConcatContents
from .disk import concat
from .materialize import materialize
from .memory import concat_neural_datasets
from .rules import check_compatible, check_duplicate_neurons, shared_stimulus_ids

__all__ = ["concat", "concat_neural_datasets", "materialize", "ConcatContents", "check_compatible",
           "check_duplicate_neurons", "shared_stimulus_ids"]
