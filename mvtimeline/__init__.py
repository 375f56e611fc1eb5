"""mvtimeline: a song and its lyrics in, an editable music-video project out."""

__version__ = "0.1.0"
