"""Lyrics readers: one module per format (:mod:`.plain`, :mod:`.lrc`, :mod:`.srt`, :mod:`.vtt`,
:mod:`.suno`, :mod:`.aligned`), and what they share (:mod:`.cues` for SRT and WebVTT, :mod:`.common`).

The format table and the dispatching :func:`~mvtimeline.lyrics.formats.read` are in
:mod:`mvtimeline.lyrics.formats`.
"""
