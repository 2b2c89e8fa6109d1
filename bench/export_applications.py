"""Export every keras.applications model (weights=None) and rebuild it from the spec, flat and folded.

For each model: build it, export it flat (`kerasspec.to_spec(model, flat=True)` + `kerasspec.dump`)
and folded into inline blocks (`kerasspec.export.fold` of that, what `to_spec` writes by default),
load each YAML back and build it, copy the original weights in, and compare predictions on one
random input (np.array_equal) and the configs (names a counter made aside: export leaves them for
the builder to give again). The folded spec must also build the same weights in the same order
as the flat one, and be a fixed point (exporting its model gives it again). Prints a markdown table:

    python bench/export_applications.py [--only ResNet50,VGG16] [--size 96]

`--size` builds the image models at a smaller square input where the application allows it
(faster; the default is each model's own input size).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def application_names(keras: object) -> list[str]:
    return sorted(name for name in dir(keras.applications) if name[:1].isupper())  # type: ignore[attr-defined]


def canonical(config: object) -> str:
    return json.dumps(config, sort_keys=True, default=repr)


def same_config(original: object, rebuilt: object) -> bool:
    """The same config, except the names a counter made (`input_layer_3`, nested models' too), which the builder
    numbers again (tests/test_export.py's assert_identical)."""
    from kerasspec.graph.rules import is_counter_name, snake_case

    def operations(model: object) -> list[object]:
        if type(model).__name__ == "Sequential":
            return list(model._layers)  # type: ignore[attr-defined]
        return list(getattr(model, "operations", None) or []) if hasattr(model, "_nodes") else []

    renamed: dict[str, str] = {}
    pairs = [(original, rebuilt)]
    while pairs:
        a, b = pairs.pop()
        if a.name != b.name:  # type: ignore[attr-defined]
            if not is_counter_name(a.name, snake_case(type(a).__name__), "input_layer", "input"):  # type: ignore[attr-defined]
                return False
            renamed[a.name] = b.name  # type: ignore[attr-defined]
        one, other = operations(a), operations(b)
        if len(one) != len(other):
            return False
        pairs += list(zip(one, other, strict=True))

    def rename(value: object) -> object:
        if isinstance(value, str):
            return renamed.get(value, value)
        if isinstance(value, list):
            return [rename(v) for v in value]
        if isinstance(value, dict):
            return {k: rename(v) for k, v in value.items()}
        return value

    return canonical(rename(json.loads(canonical(original.get_config())))) == canonical(rebuilt.get_config())  # type: ignore[attr-defined]


def weight_paths(model: object) -> list[str]:
    """The weights' paths, without the numbers Keras's process-wide counter gives unnamed variables (LayerScale's)."""
    return [re.sub(r"/variable_[0-9]+$", "/variable", w.path) for w in model.weights]  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated model names")
    parser.add_argument("--size", type=int, help="square input size for the image models")
    args = parser.parse_args(argv)

    import keras
    import numpy as np

    import kerasspec
    from kerasspec.export.fold import fold
    from kerasspec.loader import load_text

    names = application_names(keras)
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    print(f"keras {keras.__version__}, {len(names)} models\n", flush=True)
    print("| model | Keras JSON bytes | spec bytes | ratio | folded bytes | folded ratio | export s | fold s | identical "
          "| folded identical |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |", flush=True)
    failures = 0
    for name in names:
        kwargs: dict[str, object] = {"weights": None}
        if args.size:
            kwargs["input_shape"] = (args.size, args.size, 3)
        model = flat_model = None
        try:
            model = getattr(keras.applications, name)(**kwargs)
            json_bytes = len(model.to_json().encode())
            start = time.perf_counter()
            flat = kerasspec.to_spec(model, flat=True)
            text = kerasspec.dump(flat)
            middle = time.perf_counter()
            folded_text = kerasspec.dump(fold(flat))
            export_seconds, fold_seconds = middle - start, time.perf_counter() - middle
            shape = [224 if d is None else d for d in model.input_shape[1:]]  # MobileNetV3 takes any size
            x = np.random.default_rng(0).uniform(0, 255, size=(1, *shape)).astype("float32")
            # Called eagerly: the same numbers as predict() on one batch, without tracing a tf.function.
            want = np.asarray(model(x, training=False))
            verdicts = []
            for spec_text in (text, folded_text):
                loaded, found = load_text(spec_text, f"{name}.yaml")
                assert not found, found
                rebuilt = kerasspec.build(kerasspec.load_and_validate(loaded))
                checks = {"config": same_config(model, rebuilt)}
                if spec_text is folded_text:
                    checks["weight order"] = weight_paths(rebuilt) == weight_paths(flat_model)
                    checks["fixed point"] = kerasspec.dump(kerasspec.to_spec(rebuilt)) == folded_text
                else:
                    flat_model = rebuilt
                rebuilt.set_weights(model.get_weights())
                checks["predictions"] = bool(np.array_equal(want, np.asarray(rebuilt(x, training=False))))
                verdicts.append("yes" if all(checks.values()) else "no (" + ", ".join(k for k, ok in checks.items() if not ok) + ")")
            failures += verdicts != ["yes", "yes"]
            spec_bytes, folded_bytes = len(text.encode()), len(folded_text.encode())
            print(f"| {name} | {json_bytes:,} | {spec_bytes:,} | {spec_bytes / json_bytes:.3f} | {folded_bytes:,} | "
                  f"{folded_bytes / json_bytes:.3f} | {export_seconds:.2f} | {fold_seconds:.2f} | {verdicts[0]} | {verdicts[1]} |",
                  flush=True)
        except Exception as exc:  # one model's failure is a row, not the end of the table
            failures += 1
            print(f"| {name} | | | | | | | | error: {type(exc).__name__}: {' '.join(str(exc).split())[:200]} | |", flush=True)
        finally:
            model = flat_model = rebuilt = None
            keras.backend.clear_session()
            gc.collect()
    print(f"\n{len(names) - failures} of {len(names)} identical, flat and folded", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
