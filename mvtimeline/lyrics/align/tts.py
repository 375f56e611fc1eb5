"""Spoken templates of lyric lines for the aligner: espeak-ng synthesis and its features.

Each distinct line is spoken by espeak-ng (a subprocess writing a wav) in a voice that matches the
lyrics' language when it can be guessed from common words and letters (en, de, es, fr, it, pt),
otherwise ``en-us``. Chinese is spoken from its romanisation, because espeak-ng's ``cmn`` voice
reads hanzi with English tone digits ("hao two"): Mandarin as pinyin with tone numbers
(``pypinyin``) in the ``cmn-latn-pinyin`` voice, Cantonese (told by its own characters: 係, 唔,
嘅, 咗...) as Jyutping (``ToJyutping``) in ``yue-Latn-jyutping``. The speech is trimmed of leading/trailing silence and turned into the same
MFCC features as the song (:func:`.features.mfcc_features`), plus a 0..1 loudness per frame.

Internal to :mod:`mvtimeline.lyrics` (used by :mod:`.dsp`).

Public: guess_voice, romanize, Template, speak_lines, CJK_VOICES.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mvtimeline.errors import ToolMissing
from .features import HOP, N_FFT, SR, mfcc_features, normalize_rows

__all__ = ["guess_voice", "romanize", "Template", "speak_lines", "CJK_VOICES"]

log = logging.getLogger(__name__)

#: espeak-ng words per minute for the templates (singing is slower than speech).
SPEED_WPM = 150
_STOPWORDS = {
    "en-us": "the and you i to a of in my me it is that your we on for be with all this love don't i'm",
    "de": "der die das und ich du nicht ist ein eine mein dich mich wir zu den auf mit sich im wie",
    "es": "el la los las y de que en un una mi tu no es por con para me te yo se lo amor",
    "fr": "le la les et de que un une je tu ne pas est dans mon ma moi toi pour sur nous qui",
    "it": "il la le e di che un una io tu non è per con mi ti sono il mio amore",
    "pt": "o a os as e de que um uma eu tu não é em meu minha com para por você",
}
_LETTERS = {"de": "äöüß", "es": "ñ¿¡á", "fr": "çœèêàù", "pt": "ãõç", "it": "ò"}
#: The voices Chinese lyrics are spoken with, from their romanisation (:func:`romanize`).
CJK_VOICES = {"cmn": "cmn-latn-pinyin", "yue": "yue-Latn-jyutping"}
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
#: Characters written in Cantonese and hardly ever in Mandarin.
_CANTONESE = set("係唔嘅咗佢冇啲喺嘢哋嚟咁乜睇噉畀咩啱嗰咪嚿攞揾搵諗瞓")


def guess_voice(texts: Sequence[str]) -> str:
    """The espeak-ng voice for lyrics in ``texts``: the language with the most common words.

    Examples
    --------
    >>> guess_voice(["Unter dem Neon werden wir lebendig", "und ich bin nicht allein"])
    'de'
    >>> guess_voice(["City lights are calling out my name"])
    'en-us'
    >>> guess_voice(["我们一起去看海"]), guess_voice(["我哋一齊去睇海"])
    ('cmn', 'yue')
    """
    joined = " ".join(texts)
    han = len(_HAN.findall(joined))
    if han and han >= 0.3 * len(re.findall(r"\w", joined)):
        return "yue" if sum(ch in _CANTONESE for ch in joined) >= max(1, han // 200) else "cmn"
    words = [w for t in texts for w in re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", t.lower())]
    if not words:
        return "en-us"
    joined = " ".join(texts).lower()
    scores = {}
    for voice, stop in _STOPWORDS.items():
        sw = set(stop.split())
        scores[voice] = sum(1 for w in words if w in sw) / len(words)
        scores[voice] += 0.05 * sum(joined.count(ch) for ch in _LETTERS.get(voice, "")) / max(1, len(words)) * 10
    best = max(scores, key=scores.__getitem__)
    if scores[best] < 0.05 or scores[best] <= scores["en-us"]:
        return "en-us"
    return best


@dataclass(frozen=True)
class Template:
    """One line spoken: ``mfcc`` (n, 12) unit rows every ``HOP / SR`` s, ``level`` (n,) 0..1."""

    mfcc: np.ndarray
    level: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.mfcc.shape[0])


def _espeak_exe() -> str:
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if not exe:
        raise ToolMissing("espeak-ng is not installed (needed to align untimed lyrics): apt-get install espeak-ng")
    return exe


def romanize(text: str, voice: str) -> str:
    """``text`` as espeak-ng's Chinese romanised voices read it: Mandarin (``cmn``) in pinyin with
    tone numbers, Cantonese (``yue``) in Jyutping; other voices get ``text`` unchanged. Latin
    words and digits inside the line are kept.

    Raises
    ------
    ToolMissing
        pypinyin (Mandarin) or ToJyutping (Cantonese) is not installed.

    Examples
    --------
    >>> romanize("你好，世界", "cmn")
    'ni3 hao3 shi4 jie4'
    >>> romanize("我哋", "yue")
    'ngo5 dei6'
    """
    if voice == "cmn":
        try:
            from pypinyin import Style, lazy_pinyin
        except ImportError:
            raise ToolMissing("Mandarin lyrics need pypinyin: pip install pypinyin") from None
        parts = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True, errors=lambda s: [s])
    elif voice == "yue":
        try:
            import ToJyutping
        except ImportError:
            raise ToolMissing("Cantonese lyrics need ToJyutping: pip install ToJyutping") from None
        parts, other = [], ""
        for ch, j in ToJyutping.get_jyutping_list(text):
            if j:
                parts += [other, j]
                other = ""
            else:
                other += ch
        parts.append(other)
    else:
        return text
    return " ".join(w for p in parts for w in re.findall(r"\w+", p))


def _speak(exe: str, text: str, voice: str, wav: Path) -> np.ndarray:
    import soundfile as sf

    cmd = [exe, "-v", voice, "-s", str(SPEED_WPM), "-w", str(wav), "--", text]
    proc = subprocess.run(cmd, capture_output=True, timeout=60)
    if proc.returncode != 0 or not wav.exists():
        if voice != "en-us":
            log.warning("espeak-ng voice %r failed; using en-us", voice)
            return _speak(exe, text, "en-us", wav)
        raise ToolMissing(f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip()[:200]}")
    y, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    if rate != SR and y.size:
        import librosa

        y = librosa.resample(y, orig_sr=rate, target_sr=SR, res_type="soxr_hq")
    return y


def _template(y: np.ndarray) -> Template:
    import librosa

    if y.size < N_FFT:
        y = np.pad(y, (0, N_FFT - y.size))
    S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    energy = (S**2).sum(axis=0)
    db = librosa.power_to_db(energy, ref=float(energy.max()) if energy.max() > 0 else 1.0)
    level = np.clip((db + 40.0) / 40.0, 0.0, 1.0)
    active = np.flatnonzero(level > 0.2)
    a, b = (int(active[0]), int(active[-1]) + 1) if active.size else (0, S.shape[1])
    S, level = S[:, a:b], level[a:b]
    return Template(mfcc=mfcc_features(S**2, normalize=False), level=level)


def speak_lines(texts: Sequence[str], *, voice: str) -> list[Template]:
    """Speak every line with espeak-ng and return its features (identical lines are spoken once).

    Raises
    ------
    ToolMissing
        espeak-ng is not installed or fails.
    """
    exe = _espeak_exe()
    unique = list(dict.fromkeys(texts))
    with tempfile.TemporaryDirectory(prefix="mvt-align-") as tmp:
        def job(k: int) -> Template:
            text = romanize(unique[k], voice).strip() or "la"
            return _template(_speak(exe, text, CJK_VOICES.get(voice, voice), Path(tmp) / f"line{k}.wav"))

        with ThreadPoolExecutor(max_workers=4) as pool:
            made = list(pool.map(job, range(len(unique))))
    # CMVN over all the speech together (a line alone is too short for stable statistics)
    feats = normalize_rows(np.concatenate([t.mfcc for t in made], axis=0))
    out, k = [], 0
    for t in made:
        out.append(Template(mfcc=feats[k: k + t.n_frames], level=t.level))
        k += t.n_frames
    by_text = dict(zip(unique, out))
    return [by_text[t] for t in texts]
