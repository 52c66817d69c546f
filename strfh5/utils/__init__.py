"""deepSTRF's import paths, for code moving from deepSTRF to strfh5.

deepSTRF users import the batch collate and concatenation from
``deepSTRF.utils`` and ``deepSTRF.utils.data``; the same names are here, so
replacing ``deepSTRF`` by ``strfh5`` in those imports is enough::

    from strfh5.utils.data import concat_neural_datasets, neural_collate
    from strfh5.utils import plot_stim_with_response

They are the very objects of the public API (``strfh5.neural_collate`` etc.).
"""

from ..collate import neural_collate
from ..concatenation.memory import concat_neural_datasets
from ..plotting import plot_coverage, plot_stim_with_response

__all__ = ["neural_collate", "concat_neural_datasets", "plot_stim_with_response", "plot_coverage"]
