"""How the process's C allocator treats memory freed between articles (glibc only)."""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger("monitor.memory")

# mallopt() parameters, from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
KEEP_FREE = 64 * 1024 * 1024  # freed heap glibc may keep instead of returning to the system
MMAP_ABOVE = 4 * 1024 * 1024  # blocks larger than this get pages of their own


def keep_freed_memory() -> bool:
    """Let glibc reuse the memory each page's parse tree frees; False where it cannot be set.

    By default glibc hands a page's freed parse tree and body back to the system and
    page-faults the same memory in again for the next page: about 40 faults and a tenth of
    the CPU per article. Keeping up to KEEP_FREE for reuse costs no more than the peak the
    process has already reached.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the running process's C library
    except (OSError, AttributeError):
        return False  # not glibc (macOS, Windows): its allocator's defaults stay
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = bool(mallopt(_M_TRIM_THRESHOLD, KEEP_FREE) == 1)
    ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_ABOVE) == 1) and ok
    if not ok:
        log.debug("the C allocator did not take mallopt(); its defaults stay")
    return ok
