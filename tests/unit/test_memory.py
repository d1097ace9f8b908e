"""The allocator keeps memory freed between pages for the next one (glibc)."""

from __future__ import annotations

import platform
import resource

import pytest

from monitor import memory


def faults_for_a_page_worth_of_buffers() -> int:
    """Minor page faults while allocating and freeing 15 MB in 300 KB blocks (a page's worth)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    blobs = [bytearray(300_000) for _ in range(50)]
    del blobs
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt() is glibc's")
def test_freed_memory_is_reused_instead_of_faulted_in_again() -> None:
    assert memory.keep_freed_memory()
    faults_for_a_page_worth_of_buffers()  # the heap grows once
    # Untuned, each 300 KB block is mapped and unmapped anew: about 3,700 faults a round.
    assert faults_for_a_page_worth_of_buffers() < 500
