"""Audio stage: load what ffmpeg reads, analyse it with librosa.

Public: load, check, probe_duration, analyze, voice_threshold.
"""

from .analyze import analyze, voice_threshold
from .load import check, load, probe_duration

__all__ = ["load", "check", "probe_duration", "analyze", "voice_threshold"]
