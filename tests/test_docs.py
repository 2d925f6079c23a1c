"""The docstring examples of the public API run and print what they say."""

import doctest
import importlib

import pytest

import fastseg.ops.range_loss as range_mae_op


def test_numpy_api_examples():
    result = doctest.testmod(range_mae_op)
    assert result.attempted >= 5 and result.failed == 0


def test_torch_api_examples():
    pytest.importorskip("torch")
    torch_range_mae = importlib.import_module("fastseg.torch.range_loss")  # the module, not the function
    result = doctest.testmod(torch_range_mae)
    assert result.attempted >= 4 and result.failed == 0


@pytest.mark.parametrize("module", ["fastseg.tensorflow.range_loss", "fastseg.tensorflow.multiclass_hinge",
                                    "fastseg.tensorflow.categorical_crossentropy"])
def test_tensorflow_api_examples(module):
    pytest.importorskip("tensorflow")
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted >= 3 and result.failed == 0
