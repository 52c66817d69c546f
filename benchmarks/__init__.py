"""strfh5 benchmark suite: generated datasets at named scales, baselines, one table.

Run it from a checkout of the repository::

    python -m benchmarks                      # aa1, aa2, nat4-a1 (first run generates the data)
    python -m benchmarks --quick              # smoke mode, tiny scales, seconds
    python -m benchmarks --scales aa1 --json out.json

The suite is part of the checkout, not of the installed package (the
``strfh5`` command has no ``bench``).

Modules
-------
``scales``
    The named scales (``aa1``, ``aa2``, ``nat4-a1``, ``large`` and their tiny
    ``--quick`` versions) and the cache of generated files.
``baselines``
    What strfh5 is compared with: (a) a deepSTRF-style in-memory list of lists
    saved with ``torch.save``; (b) a naive HDF5 layout with one dataset per
    (stimulus, neuron) pair; (c) raw h5py reads of the ``/responses`` rows.
``figures``
    One function per measurement, each run in its own process (see
    :mod:`benchmarks.isolate`) so that peak memory is per figure.
``suite``
    Runs the figures, turns them into ratios against their baselines with the
    goal beside each, and formats the table and the JSON document.

See ``benchmarks/README.md`` for the last measured table.
"""

#: Version of the data generators of this package; part of every cache key,
#: so bump it whenever a generator changes what it writes.
GENERATOR_VERSION = "1"

__all__ = ["GENERATOR_VERSION"]
