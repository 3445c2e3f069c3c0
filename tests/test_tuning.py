"""Process settings for a scan (survey/scan/tuning.py): set for the run, restored after."""

from __future__ import annotations

import gc

import pyarrow as pa

from survey.scan.tuning import GC_THRESHOLDS, shared_tuning, system_memory_pool, tuned_collector


def test_the_collector_is_tuned_for_the_scan_and_restored() -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    with tuned_collector():
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > frozen  # what was alive is out of the collector's sight
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, frozen)


def test_arrow_uses_the_system_allocator_during_the_scan_and_is_restored() -> None:
    before = pa.default_memory_pool().backend_name
    with system_memory_pool():
        assert pa.default_memory_pool().backend_name == "system"
    assert pa.default_memory_pool().backend_name == before


def test_shared_tuning_lasts_while_any_thread_scans() -> None:
    # A Dask worker runs chunks in several threads: the first one to end must not restore the
    # collector under the others; the last one restores it.
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    first, second = shared_tuning(), shared_tuning()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold() == GC_THRESHOLDS
    assert pa.default_memory_pool().backend_name == "system"
    second.__exit__(None, None, None)
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, frozen)
