"""Audio stage: load what ffmpeg reads, analyse it with librosa.

Public: load, probe_duration, analyze.
"""

from .analyze import analyze
from .load import load, probe_duration

__all__ = ["load", "probe_duration", "analyze"]
