"""Settings that ship inside the package: styles, render presets, ComfyUI workflows and their
bindings (TOML and JSON package data), found by name through :mod:`.bundled`."""
