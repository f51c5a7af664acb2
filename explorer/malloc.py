"""Give the memory of finished requests back to the system (glibc's malloc, on Linux).

glibc serves a block of 128 KiB or more by its own mmap, unmapped when freed, but when such a block is
freed it raises that threshold to the block's size (up to 32 MiB), so that later blocks of that size
come from its heaps instead. A batch's KV cache grows into new, larger tensors (every 16 steps, and when
rows join or leave: generation/batch.py); freed inside a heap below a live block, such tensors are not
returned. The load bench's bad input (a 1,024-token generation beside short ones, a cancelled and an
unread stream; bench/load.py) grew the app's resident memory by ~93 MiB a round with glibc alone
(2,511 to 2,884 MiB in four rounds, when the cache still grew every step). Fixing the threshold (every
large block mapped alone) gave ~31 MiB a round but cost the hall 16 % of its tokens per second (80 vs
96 tok/s: a page fault per fresh page, every step). So the heaps stay, and are trimmed when a model's
batch thread ends after a quiet while (`malloc_trim`: every arena's whole free pages back to the
system): ~32 MiB a round (2,497 to 2,627 MiB in four), and a hall as fast as without; with the cache
growing in place, +3 and +39 MiB over two rounds. Trimming whenever a batch emptied gave ~52 MiB, and
halls of 83-89 tok/s beside 91-96 without (its pages faulted back in). Neither torch nor Python offers
this; ctypes calls glibc.

Blocks above the dynamic threshold's ceiling (32 MiB) are mapped alone whatever was freed before: a
round of 32 Gemma rows makes several vocabulary-wide tensors of 32 MiB (32 x 262,144 floats) and the
sampler's doubles of 64 MiB, each a fresh mapping, each page faulted in, every round. So the app
(`keep_large_blocks`, at start) serves blocks up to 1 GiB from the heaps and keeps up to 256 MiB of
free pages at a heap's top. Not every freed block is reused (an aligned allocation asks for a little
more than the block it freed), but most are: a 32-row round's picks went from 150 to 94 ms (page
faults 187,000 to 52,000 over six rounds), and a Gemma hall of 32 rows from 66-68 to 70-76 tok/s
(bench/load.py, Intel Xeon).
"""

from __future__ import annotations

import ctypes
import platform

_LIBC = ctypes.CDLL(None) if platform.libc_ver()[0] == "glibc" else None
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (malloc.h)


def keep_large_blocks() -> bool:
    """Serve blocks up to 1 GiB from glibc's heaps, and free a heap's top only past 256 MiB of free pages
    (see above); True if glibc took both settings (False elsewhere)."""
    return bool(_LIBC and _LIBC.mallopt(M_MMAP_THRESHOLD, 2**30) and _LIBC.mallopt(M_TRIM_THRESHOLD, 2**28))


def give_back() -> bool:
    """Return the free pages of glibc's heaps to the system; True if any were (False elsewhere)."""
    return bool(_LIBC and _LIBC.malloc_trim(0))
