"""deepSTRF import paths resolve to strfh5's own objects."""

import strfh5


def test_deepstrf_import_paths_are_the_public_objects():
    from strfh5.utils import concat_neural_datasets as c1, neural_collate as n1, plot_stim_with_response as p1
    from strfh5.utils.data import concat_neural_datasets as c2, neural_collate as n2

    assert n1 is n2 is strfh5.neural_collate
    assert c1 is c2 is strfh5.concat_neural_datasets
    assert p1 is strfh5.plot_stim_with_response
