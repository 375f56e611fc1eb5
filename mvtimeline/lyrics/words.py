"""How a lyric line splits into words, and how long each word is sung (in syllables).

A word is a run of non-space characters that holds at least one letter or digit; a token of
punctuation alone (``-``, ``…``) is not a word. Chinese characters and Japanese kana are one
word each (a small kana such as ``ゃ`` and the long-vowel mark ``ー`` join the character before
them); punctuation next to them joins them. Korean Hangul is written with spaces between words, so
it is split on spaces like Latin text, and each Hangul block counts one syllable.

Public: word_spans, split_words, count_syllables, line_syllables, is_cjk.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["word_spans", "split_words", "count_syllables", "line_syllables", "is_cjk"]

#: Code point ranges whose letters are one word each (Han ideographs, kana, iteration marks).
_CJK_RANGES: tuple[tuple[int, int], ...] = (
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x31F0, 0x31FF),  # katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9D),  # half-width katakana
    (0x20000, 0x3134F),  # CJK extensions B..G
)
#: Kana that lengthen or palatalise the character before them instead of making a new mora.
_ATTACH = frozenset("ぁぃぅぇぉゃゅょゎァィゥェォャュョヮヵヶー")
_HANGUL = (0xAC00, 0xD7A3)
_VOWELS = frozenset("aeiouyаеёиоуыэюяіїєαεηιουω")
_TOKEN = re.compile(r"\S+")
_CJK_CHAR = re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in _CJK_RANGES) + "]")


def is_cjk(ch: str) -> bool:
    """True for a Han ideograph or a kana letter: a character that is one word by itself.

    Examples
    --------
    >>> is_cjk("爱"), is_cjk("カ"), is_cjk("a"), is_cjk("한")
    (True, True, False, False)
    """
    return ch.isalnum() and _CJK_CHAR.fullmatch(ch) is not None


def _has_alnum(s: str) -> bool:
    return any(c.isalnum() for c in s)


def word_spans(text: str) -> list[tuple[str, int, int]]:
    """The words of ``text`` with their character spans.

    Parameters
    ----------
    text : str
        One lyric line (tags already removed).

    Returns
    -------
    list of (word, start, stop)
        ``text[start:stop] == word``; in order, never overlapping.

    Examples
    --------
    >>> word_spans("Hi, you - 我爱你")
    [('Hi,', 0, 3), ('you', 4, 7), ('我', 10, 11), ('爱', 11, 12), ('你', 12, 13)]
    """
    out: list[tuple[str, int, int]] = []
    for m in _TOKEN.finditer(text):
        if not _CJK_CHAR.search(m.group(0)):  # the common case: one word, or punctuation alone
            if _has_alnum(m.group(0)):
                out.append((m.group(0), m.start(), m.end()))
            continue
        pieces: list[list] = []  # [start, stop, is_cjk]
        run: list[int] | None = None  # [start, stop] of the current non-CJK run
        for i in range(m.start(), m.end()):
            ch = text[i]
            if is_cjk(ch):
                if ch in _ATTACH and run is None and pieces and pieces[-1][2] and pieces[-1][1] == i:
                    pieces[-1][1] = i + 1
                    continue
                if run is not None:
                    if not _has_alnum(text[run[0] : run[1]]):  # opening punctuation joins the character
                        pieces.append([run[0], i + 1, True])
                        run = None
                        continue
                    pieces.append([run[0], run[1], False])
                    run = None
                pieces.append([i, i + 1, True])
            elif not ch.isalnum() and run is None and pieces and pieces[-1][2] and pieces[-1][1] == i:
                pieces[-1][1] = i + 1  # closing punctuation joins the character before it
            elif run is None:
                run = [i, i + 1]
            else:
                run[1] = i + 1
        if run is not None:
            pieces.append([run[0], run[1], False])
        for a, b, _ in pieces:
            word = text[a:b]
            if _has_alnum(word):
                out.append((word, a, b))
    return out


def split_words(text: str) -> list[str]:
    """The words of a lyric line: split on whitespace, CJK characters one word each.

    Examples
    --------
    >>> split_words("  Under the   neon — lights ")
    ['Under', 'the', 'neon', 'lights']
    >>> split_words("君の名は。")
    ['君', 'の', '名', 'は。']
    """
    return [w for w, _, _ in word_spans(text)]


def count_syllables(word: str) -> int:
    """A rough number of syllables in one word (at least 1).

    Latin, Cyrillic and Greek words count groups of vowels (``y`` included), less a silent final
    ``e``; CJK characters and Hangul blocks count one each (small kana and ``ー`` none); digits count
    one each; other scripts count one per three letters.

    Examples
    --------
    >>> [count_syllables(w) for w in ("I", "fire", "table", "beautiful", "rhythm", "愛", "1999")]
    [1, 1, 2, 3, 1, 1, 4]
    """
    n_cjk = sum(1 for ch in word if (is_cjk(ch) and ch not in _ATTACH) or _HANGUL[0] <= ord(ch) <= _HANGUL[1])
    if n_cjk:
        return n_cjk
    plain = "".join(c for c in unicodedata.normalize("NFD", word.lower()) if not unicodedata.combining(c))
    letters = [c for c in plain if c.isalpha()]
    digits = sum(1 for c in plain if c.isdigit())
    groups = 0
    prev_vowel = False
    for c in letters:
        v = c in _VOWELS
        if v and not prev_vowel:
            groups += 1
        prev_vowel = v
    latin = "".join(c for c in letters if "a" <= c <= "z")
    if groups > 1 and latin.endswith("e") and not latin.endswith(("le", "ee", "ye")):
        groups -= 1  # silent final e: "fire", "home"
    if groups == 0 and letters and not any(c in _VOWELS or "a" <= c <= "z" for c in letters):
        groups = max(1, round(len(letters) / 3))  # a script without listed vowels
    return max(1, groups + digits)


def line_syllables(words: Iterable[str]) -> int:
    """Syllables of a whole line (at least 1).

    Examples
    --------
    >>> line_syllables(["under", "the", "city", "lights"])
    6
    """
    return max(1, sum(count_syllables(w) for w in words))
