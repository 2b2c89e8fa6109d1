"""The one place a spec's `type` becomes a Python class, and the one lookup order for it.

Names are looked up, in this order, among the spec's blocks, the refused types, classes
registered with ``keras.saving.register_keras_serializable`` (`package>Name`), and the
catalog's classes of the kind (Keras's public modules, plus the allowlisted private layers of
``keras.applications``, which the catalog records with their module). A `type` is never
imported from anywhere else.

``lookup`` is that order on names only (no Keras import: validate uses it); ``resolve_class``
follows it and imports the class (build, the runner's callbacks). The kinds themselves (module,
base class, parameter types, singular) are ``catalog.KIND_TABLE``.
"""

from __future__ import annotations

import importlib
from collections.abc import Container
from dataclasses import dataclass
from typing import Any

from kerasspec import catalog
from kerasspec.catalog import KINDS, PARAM_KINDS, kind_of_module, singular
from kerasspec.errors import BuildError, did_you_mean

__all__ = [
    "KINDS", "MODULE_PATTERN", "PARAM_KINDS", "Found", "keras_get", "kind_module", "kind_of_module",
    "kind_of_class", "kind_of_object", "lookup", "op_function", "public_class", "registered_function", "registered_kind", "registered_name",
    "resolve_class", "singular",
    "string_name",
]

# A module name under `imports:`: dotted identifiers, nothing a shell or a path could mean.
MODULE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"


def registered_name(type_name: str) -> bool:
    return ">" in type_name


@dataclass(frozen=True)
class Found:
    """Where a `type` resolves, by name only.

    ``source``: "block", "refused" (``reason`` says why), "registered" (package>Name),
    "catalog" (``entry`` is its class entry; ``module`` where the class is an attribute),
    "unknown" (no such name in ``kind``; or, with no kind given, in any kind) or
    "ambiguous" (no kind given and several kinds have the class).
    """

    source: str
    kind: str | None
    type_name: str
    entry: dict[str, Any] | None = None
    module: str | None = None
    reason: str | None = None


def lookup(kind: str | None, type_name: str, *, blocks: Container[str] = ()) -> Found:
    """The lookup order, on names: blocks, refused, registered, the catalog (private layers included).

    ``kind`` None: the only kind that has the class (an object in an untyped argument).
    ``blocks``: the names that are the spec's blocks, where blocks may stand.
    """
    if type_name in blocks:
        return Found("block", "layers", type_name)
    reason = catalog.refused_reason(type_name)
    if reason:
        return Found("refused", kind, type_name, reason=reason)
    if registered_name(type_name):
        return Found("registered", kind, type_name)
    if kind is None:
        kinds = catalog.find_kinds(type_name)
        if len(kinds) != 1:
            return Found("ambiguous" if kinds else "unknown", None, type_name)
        kind = kinds[0]
    entry = catalog.class_entry(kind, type_name)
    if entry is None:
        return Found("unknown", kind, type_name)
    return Found("catalog", kind, type_name, entry, entry.get("private") or catalog.kind(kind).module)


def resolve_class(kind: str, type_name: str, *, blocks: dict[str, type] | None = None, path: str = "") -> type:
    """The class a `type` names (``lookup``'s order), or a BuildError that lists what would fit."""
    found = lookup(kind, type_name, blocks=blocks or {})
    if found.source == "block":
        return blocks[type_name]  # type: ignore[index]
    if found.source == "refused":
        raise BuildError(f"{type_name} is refused: {found.reason}", code="KS205", path=path)
    if found.source == "registered":
        import keras

        registered = keras.saving.get_registered_object(type_name)
        if registered is None:
            known = sorted(k for k in keras.saving.get_custom_objects() if ">" in k)
            raise BuildError(
                f"no class is registered as {type_name!r}", code="KS206", path=path,
                hint=(did_you_mean(type_name, known) or f"registered: {', '.join(known) or 'none'}")
                + "; list the module that registers it under `imports:`",
            )
        return registered
    if found.source != "catalog":
        raise BuildError(f"unknown {singular(kind)} type {type_name!r}", code="KS201", path=path,
                         hint=did_you_mean(type_name, catalog.kind_names(kind)))
    return getattr(importlib.import_module(found.module), type_name)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- with Keras (build, export)


def kind_module(kind: str) -> Any:
    """The public Keras module of ``kind`` (keras.losses for "losses")."""
    return importlib.import_module(catalog.kind(kind).module)


def _base(kind: str) -> type | None:
    path = catalog.kind(kind).base
    if path is None:
        return None
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def kind_of_object(obj: Any) -> str | None:
    """The kind of a Keras object, by the kinds' base classes (in KINDS order); None for none of them."""
    return kind_of_class(type(obj))


def kind_of_class(cls: type) -> str | None:
    """The kind whose base class ``cls`` derives from (in KINDS order); None for none of them."""
    for kind in KINDS:
        base = _base(kind)
        if base is not None and issubclass(cls, base):
            return kind
    return None


def public_class(kind: str, name: str) -> Any:
    """The public class (or alias) ``name`` of ``kind``, as the catalog lists it; None when it lists none there.

    An allowlisted private layer is not public: None (``catalog.private_layer_module`` names its module).
    """
    entry = catalog.class_entry(kind, name)
    if entry is None or entry.get("private"):
        return None
    return getattr(kind_module(kind), name, None)


def string_name(kind: str, type_name: str) -> str | None:
    """The string name Keras's get() accepts for a class: its snake-cased name when that is an alias, else the
    shortest alias; None for a kind without get() or a class without a string name."""
    if kind not in KINDS or not catalog.kind(kind).getter or registered_name(type_name):
        return None
    names = [alias for alias, target in catalog.aliases(kind).items() if target == type_name]
    if not names:
        return None
    from kerasspec.graph import snake_case

    preferred = snake_case(type_name)
    return preferred if preferred in names else min(names, key=lambda n: (len(n), n))


def registered_function(name: str) -> Any:
    """The function registered as `package>name` (keras_hub>gelu_approximate), or None (not registered, or a class).

    Keras's get() reads no registered names, so the compiler passes the function itself.
    """
    if not registered_name(name):
        return None
    import keras

    found = keras.saving.get_registered_object(name)
    return found if callable(found) and not isinstance(found, type) else None


def registered_kind(type_name: str) -> str | None:
    """The kind of the class registered as `package>Name`, by the kinds' base classes; None when none fits."""
    import keras

    found = keras.saving.get_registered_object(type_name)
    return kind_of_class(found) if isinstance(found, type) else None


def keras_get(kind: str, name: str) -> Any:
    """Keras's own lookup of a string name (keras.<kind>.get); only kinds whose table row has a getter."""
    if not catalog.kind(kind).getter:
        raise ValueError(f"keras has no get() for {kind}")
    return kind_module(kind).get(name)


def op_function(type_name: str) -> Any:
    """`ops.image.resize` (or `image.resize`) -> keras.ops.image.resize; AttributeError when there is none."""
    import keras

    target: Any = keras.ops
    for part in type_name.removeprefix("ops.").split("."):
        target = getattr(target, part)
    return target
