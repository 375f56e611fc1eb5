"""The ComfyUI backend: the user's servers run an API-format workflow bound to a clip's inputs.

- :mod:`.backend` — :class:`~.backend.ComfyUIBackend` (servers, audio stems, frames on the model's grid,
  :mod:`mvtimeline.generate.grid`);
- :mod:`.client` — the HTTP + WebSocket protocol of one server;
- :mod:`.workflow` — workflows and their bindings (which node takes the image, the audio, the prompt).
"""
