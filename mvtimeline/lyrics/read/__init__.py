"""Lyrics readers: one module per format (:mod:`.plain`, :mod:`.lrc`, :mod:`.srt`, :mod:`.vtt`,
:mod:`.suno`, :mod:`.aligned`), and what they share: :mod:`.text` (a file's bytes and text, one-line
errors), :mod:`.tags` (section headings, singers, stanzas, inline word times) and :mod:`.cues` (SRT
and WebVTT cues). Times as text are read by :mod:`mvtimeline.timecode`, and the word timing the
readers share with the aligners is :mod:`mvtimeline.lyrics.timing`.

The format table and the dispatching :func:`~mvtimeline.lyrics.formats.read` are in
:mod:`mvtimeline.lyrics.formats`.

Public: nothing of its own (each reader's ``parse_*`` is in its module).
"""
