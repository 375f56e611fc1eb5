"""Backends: what turns one clip request into a video file.

- :mod:`.base` — the :class:`~.base.Backend` protocol (every optional capability declared),
  :class:`~.base.BackendBase` (their defaults, which every backend inherits) and the checks every
  request goes through;
- :mod:`.registry` — backends by name (:func:`~.registry.get_backend`, :func:`~.registry.known_backends`);
- :mod:`.procedural` (the default, no model), :mod:`.loop` (one visual over the whole song);
- :mod:`.diffusers` — text-to-image and image-to-video pipelines in this process;
- :mod:`.comfyui` — the user's ComfyUI servers running an API-format workflow.
"""
