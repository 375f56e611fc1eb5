"""Audio stage: load what ffmpeg reads, analyse it with librosa.

Public: load, check, probe_duration, analyze.
"""

from .analyze import analyze
from .load import check, load, probe_duration

__all__ = ["load", "check", "probe_duration", "analyze"]
