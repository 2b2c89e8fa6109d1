"""Comparing two Keras models layer by layer, ignoring names Keras generates."""

from __future__ import annotations

from typing import Any


def _without_names(config: Any) -> Any:
    if isinstance(config, dict):
        return {k: _without_names(v) for k, v in config.items() if k != "name"}
    if isinstance(config, list):
        return [_without_names(v) for v in config]
    return config


def layer_signature(model: Any) -> list[tuple[str, Any]]:
    """(class, config without names) of every layer, InputLayer skipped: names come from Keras's process-wide counter in a handwritten script."""
    return [
        (type(layer).__name__, _without_names(layer.get_config()))
        for layer in model.layers
        if type(layer).__name__ != "InputLayer"
    ]


def assert_same_model(built: Any, reference: Any) -> None:
    assert [c for c, _ in layer_signature(built)] == [c for c, _ in layer_signature(reference)]
    for (cls, got), (_, want) in zip(layer_signature(built), layer_signature(reference), strict=True):
        assert got == want, f"{cls}: {got} != {want}"
    assert built.count_params() == reference.count_params()
    trainable = sum(int(w.numpy().size) for w in built.trainable_weights)
    assert trainable == sum(int(w.numpy().size) for w in reference.trainable_weights)
    assert [tuple(i.shape) for i in built.inputs] == [tuple(i.shape) for i in reference.inputs]
    assert [tuple(o.shape) for o in built.outputs] == [tuple(o.shape) for o in reference.outputs]
