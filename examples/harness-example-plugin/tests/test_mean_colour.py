"""The example plugin's own tests: the harness's contract checks, and the plugin's options."""

import pytest
from harness_example_plugin import MeanColourOptions, make, register_models

from harness.errors import UsageError
from harness.options import parse
from harness.specs import LoadContext
from harness.testing import check_model, check_spec, make_images


def spec():
    found = []
    register_models(register=found.append)
    (only,) = found
    return only


def test_the_registration_is_usable():
    check_spec(spec())


def test_the_model_keeps_the_harness_contract(tmp_path):
    model = make(spec(), LoadContext(), MeanColourOptions())
    seen = check_model(model, make_images(tmp_path))
    assert all(answer.startswith("The lesion is ") for answer in seen["generate"])


def test_options_are_checked_as_the_harness_checks_them():
    assert parse(MeanColourOptions, {"delay": "0.5"}, "model 'mean-colour'", "-M").delay == 0.5
    with pytest.raises(UsageError, match="delay"):
        parse(MeanColourOptions, {"delay": "-1"}, "model 'mean-colour'", "-M")
    with pytest.raises(UsageError, match="did you mean 'delay'"):
        parse(MeanColourOptions, {"dealy": "1"}, "model 'mean-colour'", "-M")
