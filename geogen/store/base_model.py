"""The DiffusionSat single-image model a DiffusionSat ControlNet steers (its "base"), found the same way by
every engine that runs one (SR ControlNet, 3-D ControlNet).

Search order: the name given, else a DiffusionSat pipeline in the ControlNet's own folder, else the store's
default base for that ControlNet, else the only DiffusionSat model installed.
"""

from __future__ import annotations

from pathlib import Path

from geogen.errors import ModelError
from geogen.store.detect import find_models
from geogen.store.entry import ModelEntry, require_kind
from geogen.store.kinds import DIFFUSIONSAT
from geogen.store.resolve import resolve
from geogen.store.store import Store


def find_base(
    controlnet: ModelEntry,
    name: str | None,
    *,
    default: str,
    needs: str,
    how: str,
    store: Store | None = None,
) -> ModelEntry:
    """The DiffusionSat model under ``controlnet`` (see the module docstring for the search order).

    Args:
        controlnet: the ControlNet's entry (its folder is searched for a pipeline).
        name: the base the job names (a store name or a folder), or None to search.
        default: the store name tried after the ControlNet's folder.
        needs: the start of the error message, e.g. "the SR ControlNet 'x' needs its DiffusionSat base model".
        how: the end of the error message: what to pass or install.
        store: the model store (default: the user's).

    Raises:
        ModelError: the named base is not a DiffusionSat model, or none (or several) can be found.
    """
    if name:
        return require_kind(resolve(name, store=store), DIFFUSIONSAT)
    trust = controlnet.trust_pickle
    if any(d.kind == DIFFUSIONSAT for d in find_models(controlnet.path, trust_pickle=trust)):
        return resolve(Path(controlnet.path), store=store, kind=DIFFUSIONSAT, trust_pickle=trust)
    store = store or Store()
    named = store.find(default)
    if named is not None and named.kind == DIFFUSIONSAT:
        return named
    installed = [e for e in store.entries() if e.kind == DIFFUSIONSAT]
    if len(installed) == 1:
        return installed[0]
    what = (
        f"{len(installed)} are installed ({', '.join(e.name for e in installed)})"
        if installed
        else "none is installed"
    )
    raise ModelError(f"{needs} and {what}; {how}")
