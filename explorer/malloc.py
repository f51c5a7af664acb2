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
"""

from __future__ import annotations

import ctypes
import platform

_LIBC = ctypes.CDLL(None) if platform.libc_ver()[0] == "glibc" else None


def give_back() -> bool:
    """Return the free pages of glibc's heaps to the system; True if any were (False elsewhere)."""
    return bool(_LIBC and _LIBC.malloc_trim(0))
