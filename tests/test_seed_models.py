"""Every spec in specs/ builds the same model as the seed's handwritten twin."""

from __future__ import annotations

import pytest

from tests.conftest import SPECS
from tests.handwritten import seed_models
from tests.model_compare import assert_same_model

TWINS = sorted(name for name in vars(seed_models) if not name.startswith("_") and callable(getattr(seed_models, name))
               and (SPECS / f"{name}.yaml").exists())


def test_every_seed_spec_has_a_twin() -> None:
    expected = {"fashion_mnist_mlp", "fashion_mnist_callbacks", "deep_selu", "deep_bn_before_activation",
                "deep_bn_after_activation", "regularized_mlp", "wide_deep_housing", "regression"}
    assert expected <= set(TWINS)


@pytest.mark.parametrize("name", TWINS)
def test_spec_builds_its_handwritten_twin(name: str, keras_module) -> None:
    import kerasspec

    built = kerasspec.build(kerasspec.load_and_validate(SPECS / f"{name}.yaml"))
    reference = getattr(seed_models, name)()
    assert_same_model(built, reference)
    assert type(built.optimizer).__name__ == type(reference.optimizer).__name__
    assert built.optimizer.get_config()["learning_rate"] == pytest.approx(reference.optimizer.get_config()["learning_rate"])


def test_a_changed_spec_is_caught(keras_module) -> None:
    """The comparison can fail: a spec with one unit more does not match its twin."""
    import kerasspec
    from kerasspec.loader import load

    loaded = load(SPECS / "fashion_mnist_mlp.yaml")
    loaded.data["vars"]["hidden"] = 129
    with pytest.raises(AssertionError):
        assert_same_model(kerasspec.build(kerasspec.load_and_validate(loaded)), seed_models.fashion_mnist_mlp())
