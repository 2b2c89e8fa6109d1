"""Pydantic models of the spec contract (spec-format.md, sections 1-7).

They generate the structural JSON Schema (``schema.py`` adds the per-class arguments
from the catalog) and give the compiler and runner typed access to a validated spec.
Layer entries and typed objects keep their constructor arguments as extra keys.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]*$"



class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TypedObject(BaseModel):
    """`{type: ClassName, **constructor_args}`: any Keras object by its class name."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(description="The class name: a public Keras class, a block, or package>Name.")


ObjectRef = str | TypedObject


class InputSpec(_Strict):
    """One model input: keras.Input's arguments."""

    shape: list[int | None | str] = Field(description="The shape without the batch axis.")
    dtype: str | None = None
    sparse: bool | None = None
    batch_size: int | None = None
    name: str | None = Field(default=None, pattern=NAME_PATTERN)


InputValue = InputSpec | list[int | None | str]
Reference = str
References = Reference | list[Reference]


class LayerEntry(BaseModel):
    """A layer: `type`, its constructor arguments, and the reserved keys of section 3."""

    model_config = ConfigDict(extra="allow")
    type: str | None = Field(default=None, description="Layer class: keras.layers.X, ops.NAME, a block, or package>Name.")
    name: str | None = Field(default=None, description="The Keras layer name; unique in its model or block.")
    inputs: References | None = Field(default=None, description="Reference(s) this layer is called on; a list is ONE list argument.")
    args: list[Any] | None = Field(default=None, description="Positional call arguments; strings are references.")
    call: dict[str, Any] | None = Field(default=None, description="Keyword call arguments; strings are references.")
    reuse: str | None = Field(default=None, description="Call an earlier layer again (shared weights).")
    model: ModelSpec | None = Field(default=None, description="A nested Sequential or Functional model.")


class RepeatGroup(_Strict):
    """The inner `layers` inserted `repeat` times; `${i}` is the repetition index."""

    repeat: int | str = Field(description="How many times; an integer or a ${...} expression.")
    layers: list[str | LayerEntry]


LayerItem = str | RepeatGroup | LayerEntry


class ModelSpec(_Strict):
    """A Sequential or Functional model (spec-format 4)."""

    type: Literal["sequential", "functional"] = "sequential"
    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    input: InputValue | None = Field(default=None, description="Sequential: the single input, or its shape.")
    inputs: dict[str, InputValue] | None = Field(default=None, description="Functional: input name -> input, in order.")
    layers: list[LayerItem] = Field(default_factory=list)
    outputs: Reference | list[Reference] | dict[str, Reference] | None = Field(
        default=None, description="Functional: a reference, a list, or output name -> reference."
    )


class BlockSpec(_Strict):
    """A custom Layer or Model class written in YAML (spec-format 5)."""

    base: Literal["layer", "model"] = "layer"
    required: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    inputs: list[str] | None = None
    layers: list[LayerItem]
    outputs: Reference | list[Reference] | dict[str, Reference] | None = None
    description: str | None = None


class CompileSpec(BaseModel):
    """The arguments of keras.Model.compile."""

    model_config = ConfigDict(extra="allow")
    optimizer: ObjectRef | None = None
    loss: ObjectRef | list[ObjectRef] | dict[str, ObjectRef] | None = None
    metrics: list[ObjectRef] | dict[str, ObjectRef | list[ObjectRef]] | None = None
    loss_weights: list[float] | dict[str, float] | None = None


class DataSpec(BaseModel):
    """What `kerasspec run` trains on (spec-format 7)."""

    model_config = ConfigDict(extra="forbid")
    source: TypedObject
    split: dict[str, Any] | None = None
    transforms: list[str | TypedObject] | None = None
    features: dict[str, list[int]] | None = None


class FitSpec(BaseModel):
    """The arguments of keras.Model.fit, with callbacks as typed objects."""

    model_config = ConfigDict(extra="allow")
    epochs: int | str | None = None
    batch_size: int | str | None = None
    callbacks: list[ObjectRef] | None = None


class DistributeSpec(_Strict):
    strategy: Literal["default", "one_device", "mirrored", "multi_worker_mirrored", "parameter_server"] = "default"
    devices: list[str] | None = None


class Spec(_Strict):
    """A whole kerasspec file."""

    kerasspec: Literal[1] = Field(description="The spec format version.")
    name: str = Field(pattern=NAME_PATTERN, description="An identifier for the spec and its runs.")
    description: str | None = None
    seed: int | None = Field(default=None, description="keras.utils.set_random_seed before build and run.")
    vars: dict[str, Any] | None = Field(default=None, description="Values for ${...} substitution.")
    imports: list[str] | None = Field(default=None, description="Python modules imported before build (never by validate).")
    blocks: dict[str, BlockSpec] | None = None
    model: ModelSpec
    compile: CompileSpec | None = None
    data: DataSpec | None = None
    fit: FitSpec | None = None
    evaluate: bool | None = None
    distribute: DistributeSpec | None = None
    weights: str | None = Field(default=None, description="A weights file, relative to the spec's folder, loaded after the build.")


LayerEntry.model_rebuild()
