"""Export every keras.applications model (weights=None) and rebuild it from the spec.

For each model: build it, export it (`kerasspec.to_spec` + `kerasspec.dump`), load the YAML
back and build it, copy the original weights in, and compare predictions on one random
input (np.array_equal) and the two models' configs. Prints a markdown table:

    python bench/export_applications.py [--only ResNet50,VGG16] [--size 96]

`--size` builds the image models at a smaller square input where the application allows it
(faster; the default is each model's own input size).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def application_names(keras: object) -> list[str]:
    return sorted(name for name in dir(keras.applications) if name[:1].isupper())  # type: ignore[attr-defined]


def canonical(config: object) -> str:
    return json.dumps(config, sort_keys=True, default=repr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated model names")
    parser.add_argument("--size", type=int, help="square input size for the image models")
    args = parser.parse_args(argv)

    import keras
    import numpy as np

    import kerasspec
    from kerasspec.loader import load_text

    names = application_names(keras)
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    print(f"keras {keras.__version__}, {len(names)} models\n", flush=True)
    print("| model | Keras JSON bytes | spec bytes | ratio | export s | identical |")
    print("| --- | ---: | ---: | ---: | ---: | --- |", flush=True)
    failures = 0
    for name in names:
        kwargs: dict[str, object] = {"weights": None}
        if args.size:
            kwargs["input_shape"] = (args.size, args.size, 3)
        try:
            model = getattr(keras.applications, name)(**kwargs)
            json_bytes = len(model.to_json().encode())
            start = time.perf_counter()
            text = kerasspec.dump(kerasspec.to_spec(model))
            seconds = time.perf_counter() - start
            loaded, found = load_text(text, f"{name}.yaml")
            assert not found, found
            rebuilt = kerasspec.build(kerasspec.load_and_validate(loaded))
            rebuilt.set_weights(model.get_weights())
            shape = [224 if d is None else d for d in model.input_shape[1:]]  # MobileNetV3 takes any size
            x = np.random.default_rng(0).uniform(0, 255, size=(1, *shape)).astype("float32")
            # Called eagerly: the same numbers as predict() on one batch, without tracing a tf.function.
            same_predictions = bool(np.array_equal(np.asarray(model(x, training=False)), np.asarray(rebuilt(x, training=False))))
            same_config = canonical(model.get_config()) == canonical(rebuilt.get_config())
            verdict = "yes" if same_predictions and same_config else \
                "no (" + ", ".join(w for w, ok in (("predictions", same_predictions), ("config", same_config)) if not ok) + ")"
            failures += verdict != "yes"
            spec_bytes = len(text.encode())
            print(f"| {name} | {json_bytes:,} | {spec_bytes:,} | {spec_bytes / json_bytes:.3f} | {seconds:.2f} | {verdict} |", flush=True)
        except Exception as exc:  # one model's failure is a row, not the end of the table
            failures += 1
            print(f"| {name} | | | | | error: {type(exc).__name__}: {' '.join(str(exc).split())[:200]} |", flush=True)
        finally:
            model = rebuilt = None
            keras.backend.clear_session()
            gc.collect()
    print(f"\n{len(names) - failures} of {len(names)} identical", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
