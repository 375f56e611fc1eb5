"""Lyrics stage: read lyrics files, write them in subtitle/karaoke formats, place them in time.

- :func:`read` ``(path, *, format=None) -> Lyrics``: plain text, LRC / enhanced LRC, SRT, WebVTT,
  Suno aligned words, aligned.json; one reader module per format (``read_plain``, ``read_lrc``,
  ``read_srt``, ``read_vtt``, ``read_suno``, ``read_aligned``). Every problem with a file is a
  one-line :class:`~mvtimeline.errors.LyricsFormatError` naming the file and line.
- :func:`write` ``(lyrics, path, *, format=None) -> Path``: ``.lrc``, ``.elrc``, ``.srt``, ``.vtt``,
  ``.ass`` (karaoke), ``.json`` (aligned.json), ``.txt``, and ``format="suno"``; atomic.
- :func:`align` ``(lyrics, audio_path, analysis, *, aligner="auto", whisper_model=None, language=None,
  allow_download=False, device="auto", progress=None) -> Lyrics``: every line and word timed offline:
  file times kept (after a global offset check); untimed lines (and the words of timed lines) found by
  Whisper's forced alignment in 30 s windows (:mod:`.align_whisper`, the model from
  :mod:`.whisper_model`), or by espeak-ng speech + DTW on the voice (the ``dsp`` aligner); lines
  neither can place are spread between their neighbours and flagged (:mod:`.align`);
  :func:`choose_aligner` says which aligner and model a run will use (checked before the song is
  read); :func:`flagged` lists the flagged lines.
- :func:`place` ``(lyrics, *, vocal_regions_s, duration_s) -> Lyrics``: interim times for untimed
  lines over the vocal regions, weighted by syllables, anchored on timed lines.
- :data:`FORMATS`: every format by name, with its suffixes and whether it is read and/or written.
- :func:`split_words`, :func:`count_syllables`: how a line splits into words and how long they are.

Import the functions from this package (``from mvtimeline.lyrics import read, write, align, place``):
the names ``write``, ``align`` and ``place`` here are the functions, not their modules.
"""

from __future__ import annotations

from .align import ALIGNERS, align, choose_aligner, flagged
from .formats import FORMATS, Format, read
from .align.place import place
from .words import count_syllables, split_words
from .write import write

__all__ = ["read", "write", "align", "choose_aligner", "ALIGNERS", "flagged", "place", "FORMATS", "Format", "split_words", "count_syllables"]
