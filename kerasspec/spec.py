"""Pydantic models of the spec format (docs/spec-format.md#top-level and the sections it links).

They generate the structural JSON Schema (``schema.py`` adds the per-class arguments
from the catalog) and give the compiler and runner typed access to a validated spec.
Layer entries and typed objects keep their constructor arguments as extra keys.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kerasspec import catalog
from kerasspec.graph.rules import LAYER_NAME_PATTERN, NAME_PATTERN
from kerasspec.registry import MODULE_PATTERN
from kerasspec.substitute import TEMPLATE_PATTERN


class _Strict(BaseModel):
    model_config = ConfigDict(regex_engine="python-re", extra="forbid", populate_by_name=True)


class TypedObject(BaseModel):
    """`{type: ClassName, **constructor_args}`: any Keras object by its class name (docs/spec-format.md#typed-objects)."""

    model_config = ConfigDict(regex_engine="python-re", extra="allow")
    type: str = Field(description="The class name: a public Keras class, a block, or package>Name.")


ObjectRef = str | TypedObject


DtypeName = Literal[tuple(catalog.load_catalog()["dtypes"])]  # the catalog's: Keras's dtype names


class InputSpec(_Strict):
    """One model input: keras.Input's arguments."""

    shape: list[int | None | str] = Field(description="The shape without the batch axis.")
    dtype: DtypeName | Annotated[str, Field(pattern=TEMPLATE_PATTERN)] | None = Field(
        default=None, description="float32 (default), int64, string, ...")
    sparse: bool | None = None
    batch_size: int | None = None
    name: str | None = Field(default=None, pattern=NAME_PATTERN)


InputValue = InputSpec | list[int | None | str]
Reference = str
References = Reference | list[Reference]


class AdaptOptions(_Strict):
    """`adapt:`'s options (docs/spec-format.md#adapt)."""

    batch_size: Annotated[int, Field(ge=1)] | None = Field(default=None, description="Rows per batch adapt reads (default fit.batch_size, else 32).")
    steps: Annotated[int, Field(ge=1)] | None = Field(default=None, description="At most this many batches (default: the whole training split).")


class LayerEntry(BaseModel):
    """A layer: `type`, its constructor arguments, and the reserved keys of docs/spec-format.md#layers."""

    model_config = ConfigDict(regex_engine="python-re", extra="allow")
    type: str | None = Field(default=None, description="Layer class: keras.layers.X, ops.NAME, a block, or package>Name.")
    name: str | None = Field(default=None, pattern=LAYER_NAME_PATTERN, description="The Keras layer name; unique in its model or block.")
    inputs: References | None = Field(default=None, description="Reference(s) this layer is called on; a list is ONE list argument.")
    args: list[Any] | None = Field(default=None, description="Positional call arguments; strings are references.")
    call: dict[str, Any] | None = Field(default=None, description="Keyword call arguments; strings are references.")
    reuse: str | None = Field(default=None, description="Call an earlier layer again (shared weights).")
    model: ModelSpec | None = Field(default=None, description="A nested Sequential or Functional model.")
    adapt: bool | AdaptOptions | None = Field(
        default=None, description="Adapt this preprocessing layer on the training split before fit (docs/spec-format.md#adapt).")


class RepeatGroup(_Strict):
    """The inner `layers` inserted `repeat` times; `${i}` is the repetition index (docs/spec-format.md#repeat)."""

    repeat: int | str = Field(description="How many times; an integer or a ${...} expression.")
    layers: list[str | LayerEntry]


LayerItem = str | RepeatGroup | LayerEntry


class ModelSpec(_Strict):
    """A Sequential or Functional model (docs/spec-format.md#models)."""

    type: Literal["sequential", "functional"] = "sequential"
    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    input: InputValue | None = Field(default=None, description="Sequential: the single input, or its shape.")
    inputs: dict[str, InputValue] | None = Field(default=None, description="Functional: input name -> input, in order.")
    inputs_by_name: bool | None = Field(default=None, description="Functional: the model takes a dict of its inputs, "
                                        "keyed by their names, as keras.Model(inputs={...}) does.")
    layers: list[LayerItem] = Field(default_factory=list)
    outputs: Reference | list[Reference] | dict[str, Reference] | None = Field(
        default=None, description="Functional: a reference, a list, or output name -> reference."
    )


class BlockSpec(_Strict):
    """A custom Layer or Model class written in YAML (docs/spec-format.md#blocks)."""

    base: Literal["layer", "model"] = "layer"
    inline: bool = Field(default=False, description="Expand each use in place into the parent graph, its layers named "
                         "<use>_<inner>, instead of making a class (docs/spec-format.md#inline-blocks).")
    required: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    inputs: list[str] | None = None
    layers: list[LayerItem]
    outputs: Reference | list[Reference] | dict[str, Reference] | None = None
    description: str | None = None


# A `${...}` template: allowed wherever a value is, and checked again once substituted
# (validate runs the structural check of these sections on the substituted values).
Template = Annotated[str, Field(pattern=TEMPLATE_PATTERN)]
PositiveInt = Annotated[int, Field(ge=1)]
Count = Annotated[int, Field(ge=0)]
Fraction = Annotated[float, Field(gt=0, lt=1)]
PerOutput = dict[str, ObjectRef | list[ObjectRef]]
# metrics: a list (one output), a list of lists (one per output, in order), or output name -> metrics.
MetricsValue = list[ObjectRef | list[ObjectRef]] | PerOutput


class CompileSpec(_Strict):
    """The arguments of keras.Model.compile (the catalog records its signature; a test holds them equal)."""

    optimizer: ObjectRef | None = Field(default=None, description="An optimizer name (adam) or {type: Adam, learning_rate: ...}.")
    loss: ObjectRef | list[ObjectRef] | dict[str, ObjectRef] | None = Field(
        default=None, description="A loss, or one per output (a list in output order, or output name -> loss).")
    loss_weights: list[float | Template] | dict[str, float | Template] | Template | None = Field(
        default=None, description="Weights of the per-output losses: a list in output order, or output name -> weight.")
    metrics: MetricsValue | None = Field(
        default=None, description="Metrics to log, or per output (output name -> metrics).")
    weighted_metrics: MetricsValue | None = Field(
        default=None, description="Metrics weighted by class_weight / sample weights.")
    run_eagerly: bool | Template | None = Field(default=None, description="Run the training step eagerly (slow; for debugging).")
    steps_per_execution: PositiveInt | Template | None = Field(
        default=None, description="Training steps per call of the compiled function (>= 1).")
    jit_compile: bool | Literal["auto"] | Template | None = Field(default=None, description="XLA compilation: true, false or auto.")
    auto_scale_loss: bool | Template | None = Field(default=None, description="Scale the loss under mixed precision.")


class KerasSource(_Strict):
    """A keras.datasets dataset, with its own test split; other keys are load_data's arguments."""

    model_config = ConfigDict(regex_engine="python-re", extra="allow")
    type: Literal["keras"]
    name: str = Field(description="A keras.datasets module: mnist, fashion_mnist, cifar10, imdb, ...")


class SklearnSource(_Strict):
    """A scikit-learn dataset function (fetch_*, load_*, make_*); other keys are its keyword arguments."""

    model_config = ConfigDict(regex_engine="python-re", extra="allow")
    type: Literal["sklearn"]
    name: str = Field(description="A sklearn.datasets function: load_digits, make_regression, fetch_california_housing, ...")


Column = Annotated[int, Field(ge=0)] | str


class CsvSource(_Strict):
    """A CSV file in the spec's folder, one row per sample."""

    type: Literal["csv"]
    path: str = Field(description="The file, relative to the spec's folder.")
    target: Column | list[Column] = Field(description="The column(s) to predict: a header name or a column number.")
    features: list[Column] | None = Field(default=None, description="The input columns (default: every column but the target).")
    header: bool | None = Field(default=None, description="Whether the first row names the columns (default true).")
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] | None = Field(
        default=None, description="The one-character field separator (default ',').")


class NpzSource(_Strict):
    """A numpy .npz file in the spec's folder (written by numpy.savez; pickled arrays are refused)."""

    type: Literal["npz"]
    path: str = Field(description="The file, relative to the spec's folder.")
    x: str | None = Field(default=None, description="The name of the inputs array (default x).")
    y: str | None = Field(default=None, description="The name of the targets array (default y).")


LabelMode = Literal["int", "categorical", "binary"]


class ImageDirectorySource(_Strict):
    """A folder of images in the spec's folder, one subfolder per class, streamed in batches
    (keras.utils.image_dataset_from_directory)."""

    type: Literal["image_directory"]
    path: str = Field(description="The folder, relative to the spec's folder: one subfolder of images per class.")
    image_size: Annotated[list[Annotated[int, Field(ge=1, le=4096)]], Field(min_length=2, max_length=2)] = Field(
        description="[height, width], at most 4096 each: every image is resized to it.")
    test_path: str | None = Field(default=None, description="A folder of the same classes for the test split (default: none).")
    color_mode: Literal["grayscale", "rgb", "rgba"] | None = Field(default=None, description="1, 3 or 4 channels (default rgb).")
    label_mode: LabelMode | None = Field(
        default=None, description="int: class indices (default); categorical: one-hot; binary: 0 or 1 (two classes).")


class TextDirectorySource(_Strict):
    """A folder of .txt files in the spec's folder, one subfolder per class, streamed in batches
    (keras.utils.text_dataset_from_directory); each text is a string of shape [1]."""

    type: Literal["text_directory"]
    path: str = Field(description="The folder, relative to the spec's folder: one subfolder of .txt files per class.")
    test_path: str | None = Field(default=None, description="A folder of the same classes for the test split (default: none).")
    label_mode: LabelMode | None = Field(
        default=None, description="int: class indices (default); categorical: one-hot; binary: 0 or 1 (two classes).")


DataSource = Annotated[KerasSource | SklearnSource | CsvSource | NpzSource | ImageDirectorySource | TextDirectorySource,
                       Field(discriminator="type")]


class FractionSplit(_Strict):
    """sklearn's train_test_split: `fraction` of the rows, drawn with `random_state`."""

    fraction: Fraction | Template | None = Field(default=None, description="Between 0 and 1 (default 0.25).")
    random_state: Annotated[int, Field(ge=0, lt=2**32)] | Template | None = None
    shuffle: bool | Template | None = None


class FirstRowsSplit(_Strict):
    """The first N rows (the seed's `x_valid = x_train[:5000]`)."""

    first: PositiveInt | Template


SplitPart = Fraction | Template | FirstRowsSplit | FractionSplit


class SplitSpec(_Strict):
    """Rows held out: `test` first, then `validation` from what remains."""

    test: SplitPart | None = None
    validation: SplitPart | None = None


class Standardize(_Strict):
    """sklearn's StandardScaler, fitted on the training split only."""

    type: Literal["standardize"]
    with_mean: bool | Template | None = None
    with_std: bool | Template | None = None


class Rescale(_Strict):
    """x * scale + offset, in float32 (keras.layers.Rescaling)."""

    type: Literal["rescale"]
    scale: float | Template
    offset: float | Template | None = None


Transform = Literal["standardize"] | Annotated[Standardize | Rescale, Field(discriminator="type")]


class DataSpec(_Strict):
    """What `kerasspec run` trains on (docs/spec-format.md#data)."""

    source: DataSource
    split: SplitSpec | None = None
    transforms: list[Transform] | None = None
    features: dict[str, Annotated[list[Column], Field(min_length=1)]] | None = Field(
        default=None, description="Model input name -> the columns of x it takes: numbers from 0, or header names of a csv.")


class FitSpec(_Strict):
    """The arguments of keras.Model.fit (the catalog records its signature), with callbacks as typed objects."""

    epochs: PositiveInt | Template | None = Field(default=None, description="Passes over the training data (>= 1).")
    batch_size: PositiveInt | Template | None = Field(default=None, description="Samples per step, over all devices (default 32).")
    verbose: Literal["auto", 0, 1, 2] | Template | None = Field(default=None, description="0 silent, 1 progress bar, 2 one line per epoch.")
    callbacks: list[ObjectRef] | None = Field(default=None, description="keras.callbacks, e.g. {type: EarlyStopping, patience: 5}.")
    validation_split: Annotated[float, Field(ge=0, lt=1)] | Template | None = Field(
        default=None, description="The fraction of training rows kept for validation (not with data.split.validation).")
    shuffle: bool | Literal["batch"] | Template | None = Field(default=None, description="Shuffle the training rows each epoch.")
    class_weight: dict[str, float | Template] | None = Field(default=None, description="Class index -> weight of its loss.")
    initial_epoch: Count | Template | None = Field(default=None, description="The epoch to start at (below epochs).")
    steps_per_epoch: PositiveInt | Template | None = None
    validation_steps: PositiveInt | Template | None = None
    validation_batch_size: PositiveInt | Template | None = None
    validation_freq: PositiveInt | Template | None = Field(default=None, description="Validate every N epochs.")


StrategyName = Literal[tuple(s.name for s in catalog.STRATEGIES)]  # the kinds table's strategies


class DistributeSpec(_Strict):
    strategy: StrategyName = "default"
    devices: list[Annotated[str, Field(min_length=1)]] | None = None


class IntRange(_Strict):
    """Whole numbers from lo to hi, both included (docs/spec-format.md#search)."""

    int_: Annotated[list[int], Field(min_length=2, max_length=2)] = Field(alias="int", description="[lo, hi], lo < hi.")
    log: bool | None = Field(default=None, description="Sample on a log scale (needs lo > 0).")
    step: PositiveInt | None = Field(default=None, description="Only lo, lo + step, lo + 2 step, ... up to hi.")


class FloatRange(_Strict):
    """Numbers from lo to hi (docs/spec-format.md#search)."""

    float_: Annotated[list[float], Field(min_length=2, max_length=2)] = Field(alias="float", description="[lo, hi], lo < hi.")
    log: bool | None = Field(default=None, description="Sample on a log scale (needs lo > 0).")


class ChoiceRange(_Strict):
    """One of the values listed (docs/spec-format.md#search)."""

    choice: Annotated[list[Any], Field(min_length=1)] = Field(description="The values to try.")


class SearchSpec(_Strict):
    """What `kerasspec tune` searches; `run` ignores it (docs/spec-format.md#search)."""

    objective: str = Field(description="A quantity the run logs, e.g. val_loss (checked like a callback's monitor).")
    direction: Literal["minimize", "maximize"] = Field(default="minimize", description="Whether less or more of the objective is better.")
    trials: PositiveInt | None = Field(default=None, description="How many trials (the default for --trials).")
    space: dict[str, IntRange | FloatRange | ChoiceRange] = Field(
        description="Spec path as --set takes it (model.layers[0].units, vars.depth) -> {int: [lo, hi]}, {float: [lo, hi]} or {choice: [...]}.")


class Spec(_Strict):
    """A whole kerasspec file."""

    kerasspec: Literal[1] = Field(description="The spec format version.")
    name: str = Field(pattern=NAME_PATTERN, description="An identifier for the spec and its runs.")
    description: str | None = None
    seed: Annotated[int, Field(ge=0, lt=2**32)] | None = Field(default=None, description="keras.utils.set_random_seed before build and run.")
    vars: dict[str, Any] | None = Field(default=None, description="Values for ${...} substitution (docs/spec-format.md#vars).")
    imports: list[Annotated[str, Field(pattern=MODULE_PATTERN)]] | None = Field(default=None, description="Python modules imported before build (never by validate).")
    blocks: dict[str, BlockSpec] | None = None
    model: ModelSpec
    compile: CompileSpec | None = None
    data: DataSpec | None = None
    fit: FitSpec | None = None
    evaluate: bool | None = None
    distribute: DistributeSpec | None = None
    weights: str | None = Field(default=None, description="A weights file, relative to the spec's folder, loaded after the build.")
    search: SearchSpec | None = Field(default=None, description="The search space of `kerasspec tune` (docs/spec-format.md#search).")


LayerEntry.model_rebuild()
