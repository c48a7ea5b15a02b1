"""The autoregressive plan: nearest-first order outward from known frames, conditioning sets, padding."""

from __future__ import annotations

import datetime as dt

import pytest

from geogen.errors import JobSpecError
from geogen.timeseries.sequence import Step, conditioning_set, plan_sequence

D = dt.date


def test_plan_fills_from_both_sides_of_the_observed_frames() -> None:
    known = [D(2015, 7, 11), D(2015, 8, 30)]
    targets = [D(2015, 9, 15), D(2015, 7, 31), D(2015, 7, 1), D(2015, 8, 20)]
    plan = plan_sequence(known, targets)
    # 07-01 and 08-20 are both 10 days from a known frame (tie: earlier first); then 09-15 is 16 days from
    # 08-30 while 07-31 is 20 days from both 07-11 and 08-20.
    assert [s.target for s in plan] == [D(2015, 7, 1), D(2015, 8, 20), D(2015, 9, 15), D(2015, 7, 31)]
    # 07-01: two known frames, padded with the nearest (07-11), oldest first.
    assert plan[0] == Step(D(2015, 7, 1), (D(2015, 7, 11), D(2015, 7, 11), D(2015, 8, 30)))
    assert plan[1].conditioning == (D(2015, 7, 1), D(2015, 7, 11), D(2015, 8, 30))
    assert plan[2].conditioning == (D(2015, 7, 11), D(2015, 8, 20), D(2015, 8, 30))
    assert plan[3].conditioning == (D(2015, 7, 1), D(2015, 7, 11), D(2015, 8, 20))
    for step in plan:
        assert list(step.conditioning) == sorted(step.conditioning)


def test_forward_and_backward_from_one_seed() -> None:
    plan = plan_sequence([D(2012, 7, 31)], [D(2010, 6, 29), D(2014, 7, 20), D(2016, 8, 16), D(2009, 8, 18)])
    # 2014-07-20 is 719 days after the seed, 2010-06-29 763 days before; 2016-08-16 is 758 days after 2014.
    assert [s.target.year for s in plan] == [2014, 2016, 2010, 2009]
    assert plan[0].conditioning == (D(2012, 7, 31),) * 3
    assert plan[1].conditioning == (D(2012, 7, 31), D(2014, 7, 20), D(2014, 7, 20))
    assert plan[2].conditioning == (D(2012, 7, 31), D(2014, 7, 20), D(2016, 8, 16))
    assert plan[3].conditioning == (D(2010, 6, 29), D(2012, 7, 31), D(2014, 7, 20))


def test_without_known_frames_the_first_is_drawn_from_scratch() -> None:
    plan = plan_sequence([], [D(2020, 3, 1), D(2020, 1, 1), D(2020, 2, 1)])
    assert plan[0] == Step(D(2020, 1, 1), ()) and plan[0].from_scratch
    assert plan[1] == Step(D(2020, 2, 1), (D(2020, 1, 1),) * 3)
    assert plan[2].conditioning == (D(2020, 1, 1), D(2020, 2, 1), D(2020, 2, 1))  # padded with the nearest


def test_conditioning_set_size_and_padding() -> None:
    known = [D(2020, 1, d) for d in (1, 5, 9, 20)]
    assert conditioning_set(known, D(2020, 1, 10), 3) == (D(2020, 1, 1), D(2020, 1, 5), D(2020, 1, 9))
    assert conditioning_set(known, D(2020, 1, 14), 3) == (D(2020, 1, 5), D(2020, 1, 9), D(2020, 1, 20))
    assert conditioning_set(known, D(2020, 1, 10), 1) == (D(2020, 1, 9),)
    assert conditioning_set(known[:1], D(2020, 1, 10), 2) == (D(2020, 1, 1), D(2020, 1, 1))
    assert conditioning_set([D(2020, 1, 1), D(2020, 1, 3)], D(2020, 1, 2), 3) == (
        D(2020, 1, 1),
        D(2020, 1, 1),
        D(2020, 1, 3),
    )  # tie: the earlier frame is nearest


def test_bad_plans() -> None:
    with pytest.raises(JobSpecError, match="already have a frame"):
        plan_sequence([D(2020, 1, 1)], [D(2020, 1, 1)])
    with pytest.raises(JobSpecError, match="no target"):
        plan_sequence([D(2020, 1, 1)], [])
    with pytest.raises(JobSpecError, match="frames must be at least 1"):
        conditioning_set([D(2020, 1, 1)], D(2020, 1, 2), 0)
