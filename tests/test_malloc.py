"""Freed tensors inside glibc's heaps go back to the system when trimmed (each case in a fresh process)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

# Free an 8 MiB tensor (glibc raises its mmap threshold to 8 MiB), allocate 200 tensors of 1 MiB (now
# from the heap) and a small one above them, free the 200, and print how much resident memory went.
FREED = """
import gc, torch
from pathlib import Path
from explorer import malloc
def rss(): return int(Path("/proc/self/statm").read_text().split()[1]) * 4096
torch.ones(2 * 2**20).sum()  # allocated and freed
blocks = [torch.ones(2**18) for _ in range(200)]
pin = torch.ones(16)
before = rss()
del blocks; gc.collect()
if {trimmed}: assert malloc.give_back()
print((before - rss()) / 2**20)
"""


def freed_mib(trimmed: bool) -> float:
    code = FREED.format(trimmed=trimmed)
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_trimming_gives_back_the_freed_tensors_glibc_keeps_in_its_heap():
    assert freed_mib(trimmed=False) < 20  # glibc alone: the 200 MiB stay in its heap, below the small tensor
    assert freed_mib(trimmed=True) > 180


# Three tensors of 40 MiB each (above the 32 MiB ceiling of glibc's own threshold: a round's vocabulary-wide
# tensors of a Gemma batch), allocated then freed, five rounds; print the page faults meanwhile.
LARGE = """
import resource, torch
from explorer import malloc
if {kept}: assert malloc.keep_large_blocks()
def round_(): [torch.ones(10 * 2**20) for _ in range(3)]
round_()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5): round_()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(kept: bool) -> int:
    code = LARGE.format(kept=kept)
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_large_blocks_kept_in_the_heap_fault_in_far_fewer_pages():
    mapped_alone = page_faults(kept=False)
    assert mapped_alone > 5 * 25_000  # each round maps its 30,720 pages of 4 KiB afresh
    assert page_faults(kept=True) < 0.6 * mapped_alone  # here: 71,680 against 153,615
