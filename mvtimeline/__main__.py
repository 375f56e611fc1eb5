"""``python -m mvtimeline``: the same as the ``mvtimeline`` command."""

from .cli import entry

entry()
