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


# A tensor of 40 MiB (above the 32 MiB ceiling of glibc's own threshold: a round's vocabulary-wide tensor
# of a Gemma batch): does it lie inside the heap (the program break's region), or in a mapping of its own?
# (Page faults, counted over rounds, were measured for the module's docstring; they depend on where small
# blocks land between the large ones, so no test counts them.)
LARGE = """
import torch
from pathlib import Path
from explorer import malloc
if {kept}: assert malloc.keep_large_blocks()
heap = next(line for line in Path("/proc/self/maps").read_text().splitlines() if line.endswith("[heap]"))
low, high = (int(end, 16) for end in heap.split()[0].split("-"))
print(low <= torch.ones(10 * 2**20).data_ptr() < high)
"""


def served_from_the_heap(kept: bool) -> bool:
    code = LARGE.format(kept=kept)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return out.strip() == "True"


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_large_blocks_are_served_from_the_heap_once_kept():
    assert not served_from_the_heap(kept=False)  # glibc alone maps a block above 32 MiB by itself
    assert served_from_the_heap(kept=True)
