"""Lyrics stage: read lyrics files, write them in subtitle/karaoke formats, place them in time.

- :func:`read` ``(path, *, format=None) -> Lyrics``: plain text, LRC / enhanced LRC, SRT, WebVTT,
  Suno aligned words, aligned.json; one reader module per format in :mod:`.read` (``plain``,
  ``lrc``, ``srt``, ``vtt``, ``suno``, ``aligned``; each has a ``parse_*`` function), chosen by
  :mod:`.formats`. Every problem with a file is a one-line
  :class:`~mvtimeline.errors.LyricsFormatError` naming the file and line.
- :func:`write` ``(lyrics, path, *, format=None) -> Path``: ``.lrc``, ``.elrc``, ``.srt``, ``.vtt``,
  ``.ass`` (karaoke), ``.json`` (aligned.json), ``.txt``, and ``format="suno"``; atomic (:mod:`.write`).
- :func:`align` ``(lyrics, audio_path, analysis, *, aligner="auto", whisper_model=None, language=None,
  allow_download=False, device="auto", progress=ignore) -> Lyrics``: every line and word timed
  offline: file times kept (after a global offset check, :mod:`.align.offset`); untimed lines (and
  the words of timed lines) found by Whisper's forced alignment in 30 s windows
  (:mod:`.align.whisper`, the model from :mod:`.align.whisper_model`), or by espeak-ng speech + DTW
  on the voice (the ``dsp`` aligner, :mod:`.align.dsp`); lines neither can place are spread between
  their neighbours and flagged (:mod:`.align`, :mod:`.align.report`); ``progress`` receives
  :class:`~mvtimeline.progress.Progress` events of stage ``"align"``. :func:`choose_aligner` says
  which aligner and model a run will use (checked before the song is read); :func:`flagged` lists
  the flagged lines.
- :func:`place` ``(lyrics, *, vocal_regions_s, duration_s) -> Lyrics``: interim times for untimed
  lines over the vocal regions, weighted by syllables, anchored on timed lines (:mod:`.align.place`).
- :data:`FORMATS`: every format by name, with its suffixes and whether it is read and/or written.
- :func:`split_words`, :func:`count_syllables`: how a line splits into words and how long they are
  (:mod:`.words`).

What the readers and the aligners share: :mod:`.timing` (word times inside a line, untimed runs);
times as text (``mm:ss.xx``, ``hh:mm:ss,mmm``) are read and written by :mod:`mvtimeline.timecode`.

Import the functions from this package (``from mvtimeline.lyrics import read, write, align, place``):
the names ``write``, ``align`` and ``place`` here are the functions, not their modules.

Public: read, write, align, choose_aligner, ALIGNERS, flagged, place, FORMATS, Format, split_words,
count_syllables.
"""

from __future__ import annotations

from .align import ALIGNERS, align, choose_aligner, flagged
from .formats import FORMATS, Format, read
from .align.place import place
from .words import count_syllables, split_words
from .write import write

__all__ = ["read", "write", "align", "choose_aligner", "ALIGNERS", "flagged", "place", "FORMATS", "Format", "split_words", "count_syllables"]
