"""Render presets: TOML files bundled in ``mvtimeline/templates/render/`` (or the user's own, by
path) naming codec, size and quality; and which output suffixes (containers) hold which codecs.

Public: RenderPreset, load_preset, list_presets, check_output, codec_family, MUXERS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..templates.bundled import bundled_names, load_toml_file
from ..errors import InputError

__all__ = ["RenderPreset", "load_preset", "list_presets", "check_output", "codec_family", "MUXERS"]

#: Output suffixes melt writes → the FFmpeg muxer each is written with (given to melt as ``f=``,
#: so the temp name ``.NAME.XXXX.part.EXT`` does not matter).
MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
_ANY = tuple(MUXERS)

# Codec families: (name for messages, encoder-name prefixes, suffixes whose container holds it), as
# the FFmpeg melt links to muxes them (each pair rendered with melt 7.12 / FFmpeg 5.1: ProRes, DNxHR,
# FFV1, PCM and FLAC fail in .mp4 with "Could not write header", FLAC and Opus in .mov). Encoders
# not listed are not checked (melt says).
_VIDEO_CODECS = (
    ("H.264", ("libx264", "h264"), _ANY),
    ("H.265", ("libx265", "hevc"), _ANY),
    ("MPEG-4", ("mpeg4", "libxvid"), _ANY),
    ("ProRes", ("prores",), (".mov", ".mkv")),
    ("DNxHD/DNxHR", ("dnxhd",), (".mov", ".mkv")),
    ("FFV1", ("ffv1",), (".mov", ".mkv")),
)
_AUDIO_CODECS = (
    ("AAC", ("aac", "libfdk_aac"), _ANY),
    ("MP3", ("libmp3lame", "mp3"), _ANY),
    ("PCM", ("pcm_",), (".mov", ".mkv")),
    ("FLAC", ("flac",), (".mkv",)),
    ("Opus", ("libopus", "opus"), (".mp4", ".m4v", ".mkv")),
)


def _family(codec: str, table: tuple) -> tuple[str, tuple[str, ...]]:
    """(name, suffixes that hold it) of an encoder; an unknown encoder: (its name, every suffix)."""
    for name, prefixes, suffixes in table:
        if codec.startswith(prefixes):
            return name, suffixes
    return codec, _ANY


def codec_family(codec: str, kind: str = "video") -> str:
    """The codec an FFmpeg encoder writes, as messages name it.

    Parameters
    ----------
    codec : str
        An encoder name as melt takes it (``vcodec``/``acodec``), e.g. ``"prores_ks"``.
    kind : {"video", "audio"}

    Returns
    -------
    str
        E.g. ``"ProRes"``, ``"H.264"``, ``"PCM"``; an encoder not known here: its own name.

    Examples
    --------
    >>> codec_family("prores_ks"), codec_family("libx264"), codec_family("pcm_s16le", "audio")
    ('ProRes', 'H.264', 'PCM')
    """
    return _family(codec, _VIDEO_CODECS if kind == "video" else _AUDIO_CODECS)[0]


@dataclass(frozen=True)
class RenderPreset:
    """How to encode a render.

    ``width``/``height`` (pixels) is the frame size the preset is made for (None: the project's);
    ``scale_width`` scales to that width keeping the project's shape. ``crf`` and ``x264_preset``
    apply to libx264; ``extra`` holds further melt avformat consumer properties. ``suffix`` is the
    output's suffix when none is given; its container must hold ``vcodec`` and ``acodec`` (see
    :attr:`suffixes`).
    """

    name: str
    description: str = ""
    width: int | None = None
    height: int | None = None
    scale_width: int | None = None
    suffix: str = ".mp4"
    vcodec: str = "libx264"
    pix_fmt: str = "yuv420p"
    crf: int | None = 20
    x264_preset: str = "veryfast"
    acodec: str = "aac"
    audio_bitrate: str | None = "192k"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def suffixes(self) -> tuple[str, ...]:
        """The output suffixes whose container holds this preset's video and audio codecs, its own
        ``suffix`` first."""
        held = [x for x in _family(self.vcodec, _VIDEO_CODECS)[1] if x in _family(self.acodec, _AUDIO_CODECS)[1]]
        return tuple(sorted(held, key=lambda x: x != self.suffix))

    def size_for(self, project_w: int, project_h: int) -> tuple[int, int] | None:
        """Output size for a project of ``project_w``x``project_h``; None keeps the project's size.

        Raises
        ------
        InputError
            The preset's shape differs from the project's (it would distort the picture).
        """
        if self.width and self.height:
            if (self.width, self.height) == (project_w, project_h):
                return None
            if self.width * project_h != self.height * project_w:
                raise InputError(
                    f"render preset {self.name!r} is {self.width}x{self.height} but the project is "
                    f"{project_w}x{project_h}: another shape; make the project with --size "
                    f"{self.width}x{self.height} (or run --preset {self.name})")
            return self.width, self.height
        if self.scale_width:
            w = self.scale_width - self.scale_width % 2
            h = round(project_h * w / project_w / 2) * 2
            return (w, h) if (w, h) != (project_w, project_h) else None
        return None


def list_presets() -> list[str]:
    """Names of the bundled presets."""
    return bundled_names("render")


_FIELDS = set(RenderPreset.__dataclass_fields__)


def load_preset(name_or_path: str | Path) -> RenderPreset:
    """A bundled preset by name, or a preset file by path.

    Raises
    ------
    InputError
        Unknown name (the message lists the known ones), unreadable file or unknown key.
    """
    p, data = load_toml_file("render", name_or_path, keys=_FIELDS)
    data.setdefault("name", p.stem)
    data["extra"] = {str(k): str(v) for k, v in dict(data.get("extra", {})).items()}
    try:
        preset = RenderPreset(**data)
    except TypeError as exc:
        raise InputError(f"{p}: {exc}") from None
    if preset.suffix not in preset.suffixes:
        raise InputError(f"{p}: suffix = {preset.suffix!r} cannot hold {_what(preset, preset.suffix)}; "
                         f"use one of {', '.join(preset.suffixes)}")
    return preset


def _what(preset: RenderPreset, suffix: str) -> str:
    """The codecs of ``preset`` that a ``suffix`` file cannot hold, e.g. ``"ProRes video and PCM audio"``."""
    parts = []
    for kind, codec, table in (("video", preset.vcodec, _VIDEO_CODECS), ("audio", preset.acodec, _AUDIO_CODECS)):
        name, suffixes = _family(codec, table)
        if suffix not in suffixes:
            parts.append(f"{name} {kind}")
    return " and ".join(parts) or "its codecs"


def check_output(out: Path, preset: RenderPreset | None = None) -> None:
    """Check that the video file ``out`` can hold what ``preset`` (default: H.264 + AAC) writes.

    Parameters
    ----------
    out : Path
        The video to write; its suffix picks the container.
    preset : RenderPreset, optional
        The render preset.

    Raises
    ------
    InputError
        An unknown suffix, or a container that cannot hold the preset's codecs (one line that
        names the suffix to use, e.g. ``out.mp4: the intermediate preset writes ProRes video and
        PCM audio, which .mp4 cannot hold; use -o out.mov (or .mkv)``).
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if preset is None:
        if suffix not in MUXERS:
            raise InputError(f"{out}: output suffix {out.suffix or '(none)'!r} is not supported; "
                             f"use one of {', '.join(MUXERS)}")
        return
    if suffix in preset.suffixes:
        return
    others = [x for x in preset.suffixes if x != preset.suffix]
    also = f" (or {', '.join(others)})" if others else ""
    fix = f"use -o {out.with_suffix(preset.suffix)}{also}"
    if suffix not in MUXERS:
        raise InputError(f"{out}: output suffix {out.suffix or '(none)'!r} is not supported; the "
                         f"{preset.name} preset writes {preset.suffix}: {fix}")
    raise InputError(f"{out}: the {preset.name} preset writes {_what(preset, suffix)}, which {out.suffix} "
                     f"cannot hold; {fix}")
