"""deepSTRF's ``deepSTRF.utils.data`` names: the batch collate and dataset concatenation."""

from ..collate import neural_collate
from ..concatenation.memory import concat_neural_datasets

__all__ = ["neural_collate", "concat_neural_datasets"]
