"""`distribute:` -> a tf.distribute strategy (or a keras.distribution), this process's role in the cluster, and its data.

    distribute: {strategy: default | one_device | mirrored | multi_worker_mirrored | parameter_server
                           | data_parallel, devices: [...]}

- ``default``: no strategy; the run is exactly the handwritten script's.
- ``one_device``: ``tf.distribute.OneDeviceStrategy`` on ``devices[0]`` (default: the first
  GPU, else the CPU).
- ``mirrored``: ``tf.distribute.MirroredStrategy`` over the listed devices, default every
  local GPU (TensorFlow falls back to the CPU when there is none).
- ``multi_worker_mirrored``: ``tf.distribute.MultiWorkerMirroredStrategy``; the cluster and
  this worker's place in it come from the ``TF_CONFIG`` environment variable. The chief
  (task ``chief``, else ``worker`` 0) writes the run folder; every other worker writes to
  a temporary folder that the runner removes when it ends, also on failure.
- ``parameter_server``: refused (KS707). Keras 3's trainer has no parameter-server path.
- ``data_parallel`` (JAX backend): ``keras.distribution.DataParallel`` over the listed
  devices (``cpu:0``, ``gpu:1``, as ``keras.distribution.list_devices()`` names them),
  default every device JAX has; set with ``keras.distribution.set_distribution`` for the run.

The tf.distribute strategies need Keras's TensorFlow backend, and data_parallel JAX's; on
another backend they are refused (KS707) with the strategy to use there instead.

``fit.batch_size`` is the global batch: each step takes ``batch_size`` examples in all and
every replica gets ``batch_size / replicas`` of them, so the same spec trains the same way
on one device or on eight.

Two upstream bugs break ``model.fit`` under MultiWorkerMirroredStrategy with TensorFlow 2.21
and Keras 3.15; ``Distribution.prepare_model`` works around both (see
``_build_before_fit`` and ``_multi_worker_mean``). Remove them once the upstream issues
are fixed.

TensorFlow is imported inside the functions that need it; ``check_settings`` and
``worker_role`` need none, so mistakes in the spec fail before TensorFlow starts.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerasspec import catalog
from kerasspec.errors import RunError, one_line

STRATEGIES = tuple(s.name for s in catalog.STRATEGIES)  # the kinds table's strategies
WORKER_TASKS = ("chief", "worker")
DEFAULT_BATCH_SIZE = 32  # keras.Model.fit's
DEFAULT_SHUFFLE_SEED = 0  # every worker must shuffle alike; used when the spec has no seed


def _error(message: str, hint: str | None = None, path: str = "distribute.strategy") -> RunError:
    return RunError(message, code="KS707", path=path, hint=hint)


# ----------------------------------------------------------------------------- settings (no TensorFlow)


def check_settings(settings: Any, fit: dict[str, Any] | None = None) -> dict[str, Any]:
    """The validated `distribute` mapping with its defaults; TF_CONFIG is read (and checked) here, before anything starts.

    The spec's own rules (KS707: parameter_server, devices, validation_split) are validate's
    (validate/settings.py); what is left needs this process's environment.
    """
    settings = dict(settings or {})
    settings["strategy"] = settings.get("strategy") or "default"
    row = catalog.strategy(settings["strategy"])
    if row is None:  # the Python API with an unvalidated mapping
        raise _error(f"unknown distribute.strategy {settings['strategy']!r}", hint=f"one of: {', '.join(STRATEGIES)}")
    if row.cluster and row.refused is None:
        worker_role(settings)
    return settings


@dataclass(frozen=True)
class WorkerRole:
    """This process's place in the cluster; a process without a cluster is its own chief."""

    task_type: str = "chief"
    index: int = 0
    num_workers: int = 1
    has_chief: bool = True  # the cluster has a `chief` task; else worker 0 is the chief

    @property
    def is_chief(self) -> bool:
        return self.task_type == "chief" or (not self.has_chief and self.index == 0)

    @property
    def name(self) -> str:
        return f"{self.task_type} {self.index}"


def worker_role(settings: Any, environ: Any = None) -> WorkerRole:
    """The role TF_CONFIG gives this process under multi_worker_mirrored (else the lone chief)."""
    row = catalog.strategy((settings or {}).get("strategy") or "default") if isinstance(settings, dict) else None
    if row is None or not row.cluster or row.refused is not None:
        return WorkerRole()
    environ = os.environ if environ is None else environ
    example = ('TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
               '"task": {"type": "worker", "index": 0}}\' on the first machine, index 1 on the second')
    text = environ.get("TF_CONFIG")
    if not text:
        raise _error("multi_worker_mirrored needs the cluster in the TF_CONFIG environment variable, which is not set",
                     hint=f"set {example}; on one machine use strategy: mirrored")
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        task_type, index = task["type"], int(task["index"])
        members = {name: list(cluster.get(name) or []) for name in WORKER_TASKS}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _error(f"TF_CONFIG is not a cluster description ({type(exc).__name__}: {one_line(exc, 300)})", hint=f"set {example}") from exc
    others = sorted(set(cluster) - set(WORKER_TASKS))
    if others:
        raise _error(f"TF_CONFIG lists {', '.join(others)} tasks; multi_worker_mirrored takes only chief and worker tasks",
                     hint="list every machine under cluster.worker (and at most one under cluster.chief)")
    if task_type not in WORKER_TASKS or not 0 <= index < len(members[task_type]):
        raise _error(f"TF_CONFIG's task {task_type} {index} is not in its cluster",
                     hint=f"task.type is chief or worker, and task.index counts from 0 in that list: {example}")
    return WorkerRole(task_type, index, len(members["chief"]) + len(members["worker"]), bool(members["chief"]))


# ----------------------------------------------------------------------------- the strategy


def make_strategy(settings: Any) -> Any:
    """The tf.distribute strategy the `distribute` mapping asks for; None for ``default``.

    Raises KS707 when it cannot be made here (no such device, TensorFlow started already,
    another Keras backend).
    """
    settings = check_settings(settings)
    name, devices = settings["strategy"], settings.get("devices")
    row = catalog.strategy(name)
    if row is None or row.tf_class is None and row.keras_class is None and row.refused is None:
        return None  # default: no strategy
    if row.refused is not None:  # validate refuses it first; a caller that skipped validation is refused here
        raise _error(f"distribute.strategy {name} is not available: {row.refused}",
                     hint="use multi_worker_mirrored for several machines, or mirrored for the GPUs of one")
    import keras

    backend = keras.backend.backend()
    if backend not in row.backends:
        raise _error(f"distribute.strategy {name} needs Keras's {' or '.join(row.backends)} backend, and this run's is {backend}",
                     hint=_other_backend_hint(row, backend))
    if row.keras_class is not None:
        return _keras_distribution(row, devices)
    import tensorflow as tf

    strategy_class = getattr(tf.distribute, row.tf_class)  # type: ignore[arg-type]
    if row.cluster:  # the cluster and this worker's place in it come from TF_CONFIG
        try:
            return strategy_class()
        except (RuntimeError, ValueError) as exc:  # e.g. collective ops must be configured at program startup
            raise _error(f"{name} could not start: {one_line(exc)}",
                         hint="run each worker as its own `kerasspec run` process; TensorFlow must not have started in it yet") from exc
    local = _local_devices(tf)
    if row.devices == "one":
        device = devices[0] if devices else ("/gpu:0" if tf.config.list_logical_devices("GPU") else "/cpu:0")
        return strategy_class(_known_device(device, local))
    if devices is None and not tf.config.list_logical_devices("GPU"):
        from kerasspec.runner.artifacts import warn

        warn(f"distribute.strategy {name} found no GPU, so it mirrors onto the CPU alone; "
             "list devices (distribute.devices) to choose them")
    return strategy_class(devices=[_known_device(d, local) for d in devices] if devices else None)


def _other_backend_hint(row: catalog.Strategy, backend: str) -> str:
    """What to use instead of a strategy on a backend it does not run on."""
    use = " or ".join(f"--backend {b}" for b in row.backends)
    instead = [s.name for s in catalog.STRATEGIES if s.name != "default" and backend in s.backends and s.refused is None]
    if instead:
        return f"run with {use} (or KERAS_BACKEND), or on {backend} use strategy: {' or '.join(instead)}"
    return f"run with {use} (or KERAS_BACKEND), or remove `distribute:` to train on one device with {backend}"


def _keras_distribution(row: catalog.Strategy, devices: list[str] | None) -> Any:
    """keras.distribution's ``row.keras_class`` (DataParallel) over ``devices`` (default: every device)."""
    from keras import distribution as kd

    available = list(kd.list_devices())
    known = {d.lower(): d for d in available}
    if devices:
        chosen = []
        for device in devices:
            key = device.lower().lstrip("/").replace("device:", "")
            if key not in known:
                raise _error(f"this machine has no device {device!r}", path="distribute.devices",
                             hint=f"its devices (keras.distribution.list_devices()): {', '.join(available)}")
            chosen.append(known[key])
    else:
        chosen = available
    return getattr(kd, row.keras_class)(devices=chosen)  # type: ignore[arg-type]


def _local_devices(tf: Any) -> dict[tuple[str, int], str]:
    return {(spec.device_type, spec.device_index): d.name
            for d in tf.config.list_logical_devices() for spec in [tf.DeviceSpec.from_string(d.name)]}


def _known_device(name: str, local: dict[tuple[str, int], str]) -> str:
    """``/gpu:1`` -> TensorFlow's name for it, or KS707 listing the devices there are."""
    import tensorflow as tf

    try:
        spec = tf.DeviceSpec.from_string(name)
        found = local.get(((spec.device_type or "").upper(), spec.device_index or 0))
    except (ValueError, TypeError):
        found = None
    if found is None:
        available = ", ".join(sorted(n.replace("/device:", "/").lower() for n in local.values()))
        raise _error(f"this machine has no device {name!r}", hint=f"its devices: {available}", path="distribute.devices")
    return found


# ----------------------------------------------------------------------------- one run's distribution


@dataclass
class Distribution:
    """The strategy of one run (None for ``default``) and this process's role."""

    settings: dict[str, Any]
    strategy: Any = None
    role: WorkerRole = field(default_factory=WorkerRole)

    @property
    def name(self) -> str:
        return self.settings["strategy"]

    @property
    def multi_worker(self) -> bool:
        row = catalog.strategy(self.name)
        return row is not None and row.cluster and row.refused is None

    @property
    def replicas(self) -> int:
        """The model's copies that each step's batch is split across."""
        if self.strategy is None:
            return 1
        if hasattr(self.strategy, "num_replicas_in_sync"):  # tf.distribute
            return int(self.strategy.num_replicas_in_sync)
        return int(self.strategy.device_mesh.devices.size)  # keras.distribution.DataParallel

    @property
    def keras_distribution(self) -> bool:
        """A keras.distribution (data_parallel) rather than a tf.distribute strategy."""
        return self.strategy is not None and not hasattr(self.strategy, "num_replicas_in_sync")

    def even_batches(self, x: Any, y: Any, kwargs: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
        """fit's arrays for keras.distribution: JAX splits every batch evenly across the devices and refuses a last
        batch that does not split, so the fewest last rows (fewer than the devices) that make it split are left
        out, with a warning. fit's validation_split is done here as Keras does it (the last rows are held out), so
        that both parts are trimmed. Anything else: as it is."""
        if not self.keras_distribution:
            return x, y, kwargs
        kwargs = dict(kwargs)
        batch_size = kwargs.get("batch_size") or DEFAULT_BATCH_SIZE
        split = kwargs.pop("validation_split", None)
        if split:
            keep = int(math.ceil(_rows(x) * (1.0 - float(split))))
            kwargs["validation_data"] = (_take(x, slice(keep, None)), _take(y, slice(keep, None)))
            x, y = _take(x, slice(None, keep)), _take(y, slice(None, keep))
        x, y = self.even_rows(x, y, batch_size, "training")
        if kwargs.get("validation_data") is not None:
            vx, vy = kwargs["validation_data"][:2]
            kwargs["validation_data"] = self.even_rows(vx, vy, kwargs.get("validation_batch_size") or batch_size, "validation")
        return x, y, kwargs

    def even_rows(self, x: Any, y: Any, batch_size: int | None, split: str) -> tuple[Any, Any]:
        """``x, y`` without the last rows that would leave the last batch uneven across the devices (see even_batches)."""
        if not self.keras_distribution:
            return x, y
        if int(batch_size or DEFAULT_BATCH_SIZE) % self.replicas:  # every batch splits, not only the last one
            raise _error(f"data_parallel splits each batch evenly across its {self.replicas} devices, and the {split} "
                         f"batch size is {batch_size or DEFAULT_BATCH_SIZE}", path="fit.batch_size",
                         hint=f"use a multiple of {self.replicas}")
        rows = _rows(x)
        drop = rows % int(batch_size or DEFAULT_BATCH_SIZE) % self.replicas
        if not drop:
            return x, y
        from kerasspec.runner.artifacts import warn

        warn(f"data_parallel splits each batch across {self.replicas} devices: the last {drop} of the {rows} {split} rows "
             f"are left out so that the last batch splits evenly (choose a batch size and row count divisible by {self.replicas} to keep them)")
        return _take(x, slice(None, rows - drop)), _take(y, slice(None, rows - drop))

    def scope(self) -> contextlib.AbstractContextManager:
        """Build and compile happen in here, so the variables belong to the strategy (keras.distribution's:
        the distribution is Keras's global one inside it, through fit, evaluate and export)."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def prepare_model(self, model: Any, x: Any, y: Any) -> None:
        """Make a built, compiled model ready for fit under this strategy (the upstream workarounds)."""
        if self.multi_worker:
            with self.scope():
                _build_before_fit(model, x, y)
            _install_multi_worker_mean()

    def dataset(self, x: Any, y: Any, batch_size: int | None, *, shuffle: Any = False, seed: int | None = None) -> Any:
        """In-memory arrays -> a batched tf.data dataset that every worker shards by data.

        Every worker builds the same dataset (same order: the shuffle is seeded alike) and
        tf.distribute gives each replica its part of each global batch
        (``AutoShardPolicy.DATA``: the arrays come from no files to shard by).
        """
        import keras
        import numpy as np
        import tensorflow as tf

        floatx = keras.config.floatx()

        def prepared(a: Any) -> Any:  # floats -> floatx, as keras.Model.fit does with arrays
            a = np.asarray(a)
            return a.astype(floatx) if np.issubdtype(a.dtype, np.floating) and a.dtype != floatx else a

        data = (tf.nest.map_structure(prepared, x), tf.nest.map_structure(prepared, y))
        count = len(tf.nest.flatten(data[0])[0])
        ds = tf.data.Dataset.from_tensor_slices(data)
        if shuffle:  # "batch" shuffles whole examples too
            ds = ds.shuffle(count, seed=DEFAULT_SHUFFLE_SEED if seed is None else seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size or DEFAULT_BATCH_SIZE)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def _rows(x: Any) -> int:
    """The rows of fit's x: an array, a list of arrays (one per input) or input name -> array."""
    first = next(iter(x.values())) if isinstance(x, dict) else x[0] if isinstance(x, (list, tuple)) else x
    return len(first)


def _take(a: Any, rows: slice) -> Any:
    if a is None:
        return None
    if isinstance(a, dict):
        return {name: _take(value, rows) for name, value in a.items()}
    if isinstance(a, (list, tuple)):
        return type(a)(_take(value, rows) for value in a)
    return a[rows]


def setup(settings: Any) -> Distribution:
    """Check the settings, read the role and make the strategy (first thing in a run: TF_CONFIG
    strategies must exist before TensorFlow runs anything)."""
    settings = check_settings(settings)
    role = worker_role(settings)
    return Distribution(settings, make_strategy(settings), role)


# ----------------------------------------------------------------------------- non-chief workers


@contextlib.contextmanager
def worker_folder(name: str, role: WorkerRole) -> Iterator[Path]:
    """A temporary folder for a non-chief worker's files, removed when the run ends (also on failure)."""
    folder = Path(tempfile.mkdtemp(prefix=f"kerasspec-{name}-{role.task_type}{role.index}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def copy_backup(source_run: Path, backup_dir: Path, work_dir: Path) -> bool:
    """A non-chief worker resuming: copy the chief's backup (the same path inside the chief's run
    folder, which it must be able to read) into its own folder, so every worker restores the same
    state. Returns whether there was one."""
    relative = Path(backup_dir).resolve().relative_to(Path(work_dir).resolve())
    source = Path(source_run) / relative
    if not source.is_dir():
        return False
    shutil.copytree(source, backup_dir, dirs_exist_ok=True)
    return True


# ----------------------------------------------------------------------------- upstream workarounds
#
# Both are for model.fit/evaluate under MultiWorkerMirroredStrategy with more than one worker
# (TensorFlow 2.21, Keras 3.15.1) and were checked on two workers over 127.0.0.1: without them
# fit fails, with them both workers train, agree, and match a one-device run. Delete both
# (and their call in Distribution.prepare_model) once Keras's trainer runs under MWMS as is.


def _build_before_fit(model: Any, x: Any, y: Any) -> None:
    """keras-team/keras#20585: fit's ``_maybe_symbolic_build`` reduces a distributed batch with
    ``strategy.reduce`` in eager mode, which fails under MWMS with "Attempt to convert a value
    (PerReplica ...) with an unsupported type". It only exists to build the model, its compiled
    loss and metrics and the optimizer from that batch: build them here from one local example
    instead (in the strategy's scope), and turn the step off for this model.
    """
    import tensorflow as tf

    first = tf.nest.map_structure(lambda a: a[:1], (x, y))
    model._symbolic_build(data_batch=first)
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model._maybe_symbolic_build = _already_built


def _already_built(iterator: Any = None, data_batch: Any = None) -> None:
    """Stands in for Trainer._maybe_symbolic_build on a model that _build_before_fit built."""


def _install_multi_worker_mean() -> None:
    """tensorflow/tensorflow#72388 ("Invalid reduction dimension 0 for input with 0 dimensions"):
    Keras's ``reduce_per_replica`` averages the step's logs across MWMS workers with
    ``strategy.reduce("MEAN", v, axis=0)``, which fails on the scalar loss and metrics (and
    would average a vector metric over its own axis). Average across replicas only
    (``axis=None``), as Keras does for one worker's replicas. The replacement handles only that
    case and hands every other call to Keras's own function; installing it twice changes nothing.
    """
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica
    if getattr(original, "kerasspec_workaround", False):
        return

    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            import tensorflow as tf

            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    reduce_per_replica.kerasspec_workaround = True  # type: ignore[attr-defined]
    trainer.reduce_per_replica = reduce_per_replica


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "STRATEGIES",
    "Distribution",
    "WorkerRole",
    "check_settings",
    "copy_backup",
    "make_strategy",
    "setup",
    "worker_folder",
    "worker_role",
]
