"""examples/softmax_classifier_digits.py runs and reaches what it claims."""

import importlib.util
import os

import pytest

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples",
                       "softmax_classifier_digits.py")


def test_softmax_classifier_digits_learns():
    pytest.importorskip("sklearn")
    pytest.importorskip("scipy")
    spec = importlib.util.spec_from_file_location("softmax_classifier_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(maxiter=100) > 0.9
