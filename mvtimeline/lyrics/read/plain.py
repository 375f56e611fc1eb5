"""Plain-text lyrics: one lyric line per text line, no times.

- A blank line ends a stanza.
- A tag alone on a line such as ``[Verse 1]``, ``[Pre-Chorus]``, ``[Chorus]``, ``[Bridge]``,
  ``[Intro]``, ``[Outro]`` (Suno style; ``[Verse 2: Alice]`` names ``Verse 2``) names the section of
  the lines below it and starts a new stanza; it is not sung. So does a heading as lyric sites
  write it, alone on a line: ``Chorus``, ``Verse 2:``, ``(Bridge)``.
- Other tags and directions alone on a line, ``[Male Vocal]``, ``(guitar solo)``, ``*laughs*``,
  and lines without a letter or digit (``♪``) are skipped.
- Words split on whitespace; Chinese characters and kana are one word each
  (see :mod:`mvtimeline.lyrics.words`).

Public: parse_plain.
"""

from __future__ import annotations


from mvtimeline.types import Line, Lyrics, Word
from .tags import Stanzas, classify
from ..timing import finish
from ..words import split_words

__all__ = ["parse_plain"]


def parse_plain(text: str, *, name: str = "<text>", path: str = "") -> Lyrics:
    """Lyrics from plain text.

    Parameters
    ----------
    text : str
        The decoded file, lines separated by ``\\n``.
    name : str
        File name used in error messages.
    path : str
        Stored as ``Lyrics.path``.

    Returns
    -------
    Lyrics
        Untimed lines (``start_s``/``end_s`` None, ``source="none"``) with section and stanza.

    Raises
    ------
    LyricsFormatError
        An unclosed ``[`` tag, an LRC time tag (read such a file as LRC), or no sung line.

    Examples
    --------
    >>> lyr = parse_plain("[Chorus]\\nHold on\\n\\n(solo)\\nLet go")
    >>> [(ln.text, ln.section, ln.stanza, ln.line_no) for ln in lyr.lines]
    [('Hold on', 'Chorus', 0, 2), ('Let go', 'Chorus', 1, 5)]
    """
    stanzas = Stanzas()
    section: str | None = None
    singers: tuple[str, ...] = ()
    lines: list[Line] = []
    for line_no, raw in enumerate(text.split("\n"), start=1):
        tl = classify(raw, name=name, line_no=line_no)
        if tl.kind == "blank":
            stanzas.brk()
            continue
        if tl.section is not None:
            section = tl.section
            stanzas.brk()
        if tl.singers is not None:
            singers = tl.singers
        if tl.kind != "sung":
            continue
        words = split_words(tl.text)
        if not words:
            continue
        lines.append(
            Line(
                text=tl.text,
                words=tuple(Word(w) for w in words),
                section=section,
                stanza=stanzas.next_line(),
                line_no=line_no,
                singers=singers,
            )
        )
    return Lyrics(path=path, format="plain", lines=finish(lines, name=name))
