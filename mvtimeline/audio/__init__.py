"""Audio stage: load what ffmpeg reads, analyse it with librosa.

Public: load, check, check_stem, probe, probe_duration, wav_window, analyze, voice_threshold.
"""

from .analyze import analyze, voice_threshold
from .load import check, check_stem, load, probe, probe_duration, wav_window

__all__ = ["load", "check", "check_stem", "probe", "probe_duration", "wav_window", "analyze", "voice_threshold"]
