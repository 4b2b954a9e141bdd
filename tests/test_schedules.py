"""Learning-rate schedules: values against their formulas, configs, and use inside an optimizer."""

from __future__ import annotations

import math

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import ConfigError
from glassnet.schedules import (
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    PiecewiseConstantDecay,
    StepDecay,
)

STEPS = [0, 1, 7, 10, 15, 99, 100, 101, 250]


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_decay(staircase):
    schedule = ExponentialDecay(0.5, decay_steps=10, decay_rate=0.3, staircase=staircase)
    for step in STEPS:
        exponent = (step // 10) if staircase else step / 10
        assert schedule(step) == pytest.approx(0.5 * 0.3**exponent, rel=1e-14)
    assert schedule(10) == pytest.approx(0.15)
    assert schedule(15) == pytest.approx(0.15 if staircase else 0.5 * 0.3**1.5)


@pytest.mark.parametrize("staircase", [False, True])
def test_inverse_time_decay(staircase):
    schedule = InverseTimeDecay(0.5, decay_steps=10, decay_rate=2.0, staircase=staircase)
    for step in STEPS:
        ratio = (step // 10) if staircase else step / 10
        assert schedule(step) == pytest.approx(0.5 / (1 + 2.0 * ratio), rel=1e-14)
    assert schedule(20) == pytest.approx(0.1)


def test_piecewise_constant_decay_boundaries_are_inclusive_on_the_left_piece():
    schedule = PiecewiseConstantDecay(boundaries=[10, 100], values=[1.0, 0.5, 0.1])
    expected = {0: 1.0, 10: 1.0, 11: 0.5, 100: 0.5, 101: 0.1, 10_000: 0.1}
    assert {step: schedule(step) for step in expected} == expected


def test_step_decay():
    schedule = StepDecay(0.8, step_size=30, factor=0.25)
    assert [schedule(s) for s in (0, 29, 30, 59, 60, 95)] == [0.8, 0.8, 0.2, 0.2, 0.05, 0.8 * 0.25**3]


def test_cosine_decay_with_warmup_and_floor():
    schedule = CosineDecay(0.4, decay_steps=100, alpha=0.1, warmup_steps=5)
    assert [schedule(s) for s in range(5)] == pytest.approx([0.08, 0.16, 0.24, 0.32, 0.4])
    for step in [5, 30, 55, 80, 105, 500]:
        s = min(step - 5, 100)
        expected = 0.4 * (0.9 * 0.5 * (1 + math.cos(math.pi * s / 100)) + 0.1)
        assert schedule(step) == pytest.approx(expected, rel=1e-14)
    assert schedule(5) == pytest.approx(0.4)
    assert schedule(55) == pytest.approx(0.4 * 0.55)  # halfway: mean of start and floor
    assert schedule(105) == schedule(10_000) == pytest.approx(0.04)


def test_cosine_decay_without_warmup_starts_at_initial_rate():
    schedule = CosineDecay(1.0, decay_steps=10)
    assert schedule(0) == 1.0
    assert schedule(10) == pytest.approx(0.0, abs=1e-15)


SCHEDULES = [
    ExponentialDecay(0.1, 10, 0.5, staircase=True),
    InverseTimeDecay(0.1, 10, 0.5),
    PiecewiseConstantDecay([5, 10], [0.3, 0.2, 0.1]),
    StepDecay(0.1, 4, 0.5),
    CosineDecay(0.1, 20, alpha=0.05, warmup_steps=3),
]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: type(s).__name__)
def test_config_round_trip_through_the_registry(schedule):
    config = {"class_name": type(schedule).__name__, "config": schedule.get_config()}
    rebuilt = gn.schedules.get(config)
    assert type(rebuilt) is type(schedule) and rebuilt.get_config() == schedule.get_config()
    assert [rebuilt(s) for s in range(30)] == [schedule(s) for s in range(30)]
    assert type(schedule).__name__ in repr(schedule)


def test_optimizer_evaluates_the_schedule_at_each_step():
    schedule = PiecewiseConstantDecay([1, 3], [1.0, 0.1, 0.01])
    p = gn.Parameter(np.zeros(2), name="w")
    optimizer = gn.optimizers.SGD(schedule)
    rates = []
    for _ in range(6):
        before = p.value.copy()
        p.grad[...] = [1.0, 2.0]
        optimizer.step([p])
        rates.append((before - p.value)[0])
        assert optimizer.last_learning_rate == pytest.approx(rates[-1])
    assert rates == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01, 0.01])


def test_bad_schedule_arguments_raise_clear_errors():
    with pytest.raises(ConfigError, match="one more entry"):
        PiecewiseConstantDecay([10], [0.1])
    with pytest.raises(ConfigError, match="increase strictly"):
        PiecewiseConstantDecay([10, 5], [0.1, 0.2, 0.3])
    with pytest.raises(ConfigError, match="decay_steps"):
        ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5)
    with pytest.raises(ConfigError, match="alpha"):
        CosineDecay(0.1, 10, alpha=2.0)
