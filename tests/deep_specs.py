"""Deep generated specs, for tests/test_shapes.py and bench/run.py (no pytest here)."""

from __future__ import annotations


def deep_spec(*, last_filters: int = 8, functional: bool = False) -> str:
    """66 Conv2D/BatchNormalization/ReLU triples, then (functional) a residual Add, pooling and a Dense head."""
    lines = ["kerasspec: 1", "name: deep", "model:"]
    lines += ["  type: functional", "  inputs: {img: [32, 32, 8]}"] if functional else ["  input: [32, 32, 8]"]
    lines.append("  layers:")
    for i in range(66):
        filters = last_filters if i == 65 else 8
        lines += [f"    - {{type: Conv2D, filters: {filters}, kernel_size: 3, padding: same}}", "    - BatchNormalization", "    - ReLU"]
    if functional:
        lines[-1] = "    - {name: last, type: ReLU}"
        lines.append("    - {name: skip, type: Add, inputs: [last, img]}")
    lines += ["    - GlobalAveragePooling2D", "    - {type: Dense, units: 10}"]
    return "\n".join(lines) + "\n"
