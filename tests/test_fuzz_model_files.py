"""Fuzzed model files (issue 11, item 4): 300 seeded mutations of valid files, each loaded in a worker
under a 1 GiB address-space cap and a 10 s time cap; every outcome must be a clean load or a glassnet
error. The long run (10,000+ cases) is ``python -m bench.fuzz_model_files``; see docs/reliability.md."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "fuzz_model_files.py"


@pytest.fixture(scope="module")
def fuzzer():
    if sys.platform != "linux":
        pytest.skip("the fuzz worker uses RLIMIT_AS and /proc (Linux)")
    spec = importlib.util.spec_from_file_location("fuzz_model_files", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mutations_are_deterministic_and_change_the_file(fuzzer):
    seeds = fuzzer.seed_files()
    cases = [fuzzer.make_case(seeds, 0, i) for i in range(40)]
    assert cases == [fuzzer.make_case(seeds, 0, i) for i in range(40)]
    assert sum(data != seeds[base] for base, _, data in cases) >= 38
    assert {kind for _, kind, _ in cases} == set(fuzzer.MUTATIONS)


def test_three_hundred_mutated_files_load_or_raise_glassnet_errors(fuzzer):
    summary = fuzzer.fuzz(300, seed=0)
    assert summary["failures"] == [], summary["failures"][:5]
    outcomes = summary["outcomes"]
    assert outcomes.get("loaded", 0) > 10 and outcomes.get("ModelFileError", 0) > 150, outcomes
    assert set(outcomes) <= {"loaded", "ModelFileError"}, outcomes
    assert summary["slowest"]["s"] < 1.0 and summary["peak_rss_kb"]["max"] < 512 * 1024, summary

