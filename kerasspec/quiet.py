"""Importing Keras without TensorFlow's C++ start-up log on the terminal.

TensorFlow 2.21 prints several absl lines while it loads, before it reads
TF_CPP_MIN_LOG_LEVEL, so the variable cannot silence them. The CLI imports Keras with
file descriptor 2 captured, and shows the capture only when the import fails.
"""

from __future__ import annotations

import os
import sys
import tempfile


def import_keras_quietly() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # later C++ messages below errors
    if "keras" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
