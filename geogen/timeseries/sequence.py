"""The autoregressive plan of a sequence: which date is generated when, and from which frames.

DiffusionSat's temporal generation (paper appendix) conditions the 3-D ControlNet on the frames known so far
(at most three, padded by repetition) plus the next target date's metadata, and repeats forward or backward in
time. Here the frames known at the start are the observed ones (or the seed image); when there are none, the
earliest target date is drawn first by the single-image model. Then, repeatedly:
- the next target is the remaining date nearest in time to any known frame (ties: the earlier date), so
  generation spreads forward and backward from what is known, filling gaps from both sides;
- its conditioning set is the ``frames`` known frames nearest in time to it (ties: the earlier frame), in
  chronological order (oldest first, the order DiffusionSat's Texas model was trained with), padded to
  ``frames`` by repeating the frame nearest to the target (the repeat placed next to it);
- the generated frame joins the known frames.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from geogen.errors import JobSpecError

DEFAULT_FRAMES = 3
"""Conditioning frames per step: the T the published 3-D ControlNet (Texas housing) was trained with."""


@dataclass(frozen=True)
class Step:
    """One generation: the ``target`` date and its conditioning dates (empty: the single-image model)."""

    target: dt.date
    conditioning: tuple[dt.date, ...]

    @property
    def from_scratch(self) -> bool:
        return not self.conditioning


def _gap(a: dt.date, b: dt.date) -> int:
    return abs((a - b).days)


def conditioning_set(
    known: Iterable[dt.date], target: dt.date, frames: int = DEFAULT_FRAMES
) -> tuple[dt.date, ...]:
    """The ``frames`` dates conditioning ``target``: nearest known ones, chronological, padded by repetition.

    Raises:
        JobSpecError: no known frame, or ``frames`` < 1.
    """
    if frames < 1:
        raise JobSpecError(f"options.frames must be at least 1, got {frames}")
    ranked = sorted(set(known), key=lambda d: (_gap(d, target), d))
    if not ranked:
        raise JobSpecError(f"no frame to condition {target} on")
    chosen = ranked[:frames] + [ranked[0]] * max(0, frames - len(ranked))
    return tuple(sorted(chosen))


def plan_sequence(
    known: Sequence[dt.date], targets: Sequence[dt.date], frames: int = DEFAULT_FRAMES
) -> list[Step]:
    """The generation steps for ``targets`` given the ``known`` dates (see the module docstring).

    Raises:
        JobSpecError: no target, a target that is already known, or ``frames`` < 1.
    """
    if not targets:
        raise JobSpecError("no target date to generate")
    have = set(known)
    clash = sorted(have & set(targets))
    if clash:
        raise JobSpecError(
            f"target date(s) {', '.join(map(str, clash))} already have a frame; a sequence holds one "
            "frame per date"
        )
    remaining = sorted(set(targets))
    steps: list[Step] = []
    if not have:
        first = remaining.pop(0)
        steps.append(Step(first, ()))
        have.add(first)
    while remaining:
        nxt = min(remaining, key=lambda d: (min(_gap(d, k) for k in have), d))
        remaining.remove(nxt)
        steps.append(Step(nxt, conditioning_set(have, nxt, frames)))
        have.add(nxt)
    return steps
