"""Sections people recognise: chorus, verse, pre-chorus, bridge, intro, outro, instrumental.

Lyrics say most: a stanza whose words come back is a chorus (the one that comes back most, and the
longest of those), another repeated stanza sung right before it a pre-chorus; a stanza sung once
after the second chorus and before the last is the bridge, sung after the last chorus the outro;
the others are verses, numbered by the choruses between them. Section tags (``[Chorus]``) win
where the lyrics have them. Stanzas are the lyrics' blank-line blocks, or, when the file has none
(LRC, SRT), runs of lines split where the voice rests. Two stanzas also count as the same part
when their words mostly agree and the audio's self-similarity (the analysis' section clusters)
puts them in the same cluster. Without lines a stretch is intro, outro or instrumental.

Public: label_lines, Labels.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..types import Analysis, Line, section_kind

__all__ = ["label_lines", "Labels"]

#: Two lines are the same when their words agree this much (difflib's ratio).
LINE_MATCH = 0.8
#: Without blank lines, this many lines sung again in the same order make a repeated part.
MIN_RUN_LINES = 2
#: Two stanzas are the same part when this share of their lines match...
STANZA_MATCH = 0.6
#: ... or, when the audio puts them in the same cluster, this share.
STANZA_MATCH_AUDIO = 0.34
#: Without blank lines in the file, a rest of the voice this long (seconds) ends a stanza, when it is also
#: well over the usual rest between lines.
STANZA_REST_S = 2.0


@dataclass(frozen=True)
class Labels:
    """The section of each timed line (in time order) and which occurrence of its part it is.

    ``names[i]`` is what the plan calls the section (``"Chorus"``, ``"Verse 2"``), ``part[i]`` a
    number shared by every stanza of the same repeated part (``-1``: sung once), ``occurrence[i]``
    counts that part's stanzas from 0.
    """

    names: tuple[str, ...]
    part: tuple[int, ...]
    occurrence: tuple[int, ...]


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def _stanzas(lines: Sequence[Line]) -> list[list[int]]:
    """Line indices grouped into stanzas: the file's blocks; else (LRC, SRT: no blank lines) runs
    split where a run of two or more lines comes back later (its start and end) and where the voice
    rests clearly longer than between lines."""
    if not lines:
        return []
    if len({ln.stanza for ln in lines}) > 1:
        out: list[list[int]] = [[0]]
        for i in range(1, len(lines)):
            if lines[i].stanza != lines[i - 1].stanza or (lines[i].section or "") != (lines[i - 1].section or ""):
                out.append([])
            out[-1].append(i)
        return out
    n = len(lines)
    rests = [float(lines[i].start_s) - float(lines[i - 1].end_s) for i in range(1, n)]
    # a stanza ends at a rest clearly longer than the voice's usual rest between lines
    long_rest = max(STANZA_REST_S, 1.6 * float(np.median(rests))) if rests else STANZA_REST_S
    cuts = {i for i in range(1, n) if rests[i - 1] >= long_rest or (lines[i].section or "") != (lines[i - 1].section or "")}
    texts = [_norm(ln.text) for ln in lines]
    same = [[i != j and bool(texts[i]) and difflib.SequenceMatcher(None, texts[i], texts[j]).ratio() >= LINE_MATCH
             for j in range(n)] for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if not same[i][j] or (i and same[i - 1][j - 1]):
                continue
            m = 1
            while j + m < n and i + m < j and same[i + m][j + m]:
                m += 1
            if m >= MIN_RUN_LINES:
                cuts |= {i, i + m, j, j + m}
    bounds = sorted(c for c in cuts if 0 < c < n)
    edges = [0, *bounds, n]
    return [list(range(a, b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def _match(a: Sequence[str], b: Sequence[str]) -> float:
    """Share of lines of the longer stanza that have a matching line in the other."""
    if not a or not b:
        return 0.0
    hits = sum(1 for x in a if any(difflib.SequenceMatcher(None, x, y).ratio() >= LINE_MATCH for y in b))
    return hits / max(len(a), len(b))


def _cluster_at(analysis: Analysis | None, t: float) -> str:
    if analysis is None:
        return ""
    for s in analysis.sections:
        if s.start_s <= t < s.end_s:
            return s.label
    return ""


def label_lines(lines: Sequence[Line], analysis: Analysis | None = None) -> Labels:
    """Name the section of every timed line (see the module's description).

    Parameters
    ----------
    lines : sequence of Line
        Timed lines in time order.
    analysis : Analysis, optional
        Its section clusters help decide whether two similar stanzas are the same part.

    Returns
    -------
    Labels

    Examples
    --------
    >>> from mvtimeline.types import Line
    >>> texts = ["a b c", "d e f", "", "la la la", "oh oh", "", "g h i", "j k l", "", "la la la", "oh oh"]
    >>> lines, stanza, t = [], 0, 0.0
    >>> for x in texts:
    ...     if not x:
    ...         stanza += 1
    ...         continue
    ...     lines.append(Line(text=x, stanza=stanza, start_s=t, end_s=t + 2)); t += 3
    >>> label_lines(lines).names
    ('Verse 1', 'Verse 1', 'Chorus', 'Chorus', 'Verse 2', 'Verse 2', 'Chorus', 'Chorus')
    """
    n = len(lines)
    if not n:
        return Labels((), (), ())
    stanzas = _stanzas(lines)
    texts = [[_norm(lines[i].text) for i in st] for st in stanzas]
    clusters = [_cluster_at(analysis, (float(lines[st[0]].start_s) + float(lines[st[-1]].end_s)) / 2)
                for st in stanzas]
    # parts: stanzas that repeat (union of matching pairs)
    root = list(range(len(stanzas)))

    def find(k: int) -> int:
        while root[k] != k:
            root[k] = root[root[k]]
            k = root[k]
        return k

    for a in range(len(stanzas)):
        for b in range(a + 1, len(stanzas)):
            m = _match(texts[a], texts[b])
            same_audio = bool(clusters[a]) and clusters[a] == clusters[b]
            if m >= STANZA_MATCH or (same_audio and m >= STANZA_MATCH_AUDIO):
                root[find(b)] = find(a)
    groups: dict[int, list[int]] = {}
    for k in range(len(stanzas)):
        groups.setdefault(find(k), []).append(k)
    repeated = {g: ks for g, ks in groups.items() if len(ks) > 1}
    tagged = [lines[st[0]].section for st in stanzas]
    names: list[str] = [""] * len(stanzas)
    # tags win where the lyrics have them
    for k, tag in enumerate(tagged):
        if tag:
            names[k] = tag
    chorus_group = None
    if repeated:
        chorus_group = max(repeated, key=lambda g: (len(repeated[g]), sum(len(texts[k]) for k in repeated[g]), -g))
    chorus_ks = sorted(repeated.get(chorus_group, [])) if chorus_group is not None else []
    tagged_chorus = [k for k, tag in enumerate(tagged) if tag and section_kind(tag) == "chorus"]
    chorus_all = sorted(set(chorus_ks) | set(tagged_chorus))
    for g, ks in repeated.items():
        for k in ks:
            if names[k]:
                continue
            if g == chorus_group:
                names[k] = "Chorus"
            elif all(k2 + 1 in chorus_all for k2 in ks):
                names[k] = "Pre-Chorus"
            elif all(k2 - 1 in chorus_all for k2 in ks):
                names[k] = "Post-Chorus"
            else:
                names[k] = "Refrain"
    # stanzas sung once: verses (numbered by the choruses before them), a bridge between the later
    # choruses, the outro after the last
    verse_no, seen_chorus, after_chorus = 0, 0, True
    for k in range(len(stanzas)):
        if k in chorus_all:
            seen_chorus += 1
            after_chorus = True
            continue
        if names[k]:
            continue
        later_chorus = any(c > k for c in chorus_all)
        if len(chorus_all) >= 2 and seen_chorus >= 2 and later_chorus:
            names[k] = "Bridge"
        elif seen_chorus >= 1 and not later_chorus:
            names[k] = "Outro"
        else:
            verse_no += 1 if after_chorus or not chorus_all else 0  # no chorus: every stanza a verse
            after_chorus = False
            names[k] = f"Verse {verse_no}" if chorus_all or len(stanzas) > 1 else "Verse"
    part_of = {k: g for g, ks in repeated.items() for k in ks}
    for k in tagged_chorus:
        part_of.setdefault(k, -2)  # tagged choruses whose words differ: still one part
    line_names: list[str] = [""] * n
    part: list[int] = [-1] * n
    occ: list[int] = [0] * n
    counts: dict[int, int] = {}
    for k, st in enumerate(stanzas):
        g = part_of.get(k, -1)
        o = counts.get(g, 0) if g != -1 else 0
        counts[g] = o + 1
        for i in st:
            line_names[i] = names[k]
            part[i] = g
            occ[i] = o
    return Labels(tuple(line_names), tuple(part), tuple(occ))
