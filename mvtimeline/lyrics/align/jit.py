"""numba's ``njit`` where numba is installed (it ships with librosa), else a no-op decorator: the
compiled kernels (the aligner's DTW and structure DP) are plain Python that runs slowly without it.

Public: njit.
"""

from __future__ import annotations

__all__ = ["njit"]

try:
    from numba import njit
except ImportError:  # pragma: no cover
    def njit(*args, **kwargs):  # type: ignore[no-redef]
        def wrap(f):
            return f
        return wrap(args[0]) if args and callable(args[0]) else wrap
