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
