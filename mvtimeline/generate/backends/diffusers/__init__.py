"""The diffusers backend: a keyframe from a text-to-image pipeline, then image-to-video, in this process.

- :mod:`.backend` — :class:`~.backend.DiffusersBackend` (one request → one clip);
- :mod:`.common` — settings, model references, loading pipelines, the install hint (frame counts
  and sizes on the model's grid: :mod:`mvtimeline.generate.grid`);
- :mod:`.t2i`, :mod:`.wan`, :mod:`.ltx`, :mod:`.svd` — one module per pipeline family.

torch and diffusers are imported only when a pipeline is loaded.
"""
