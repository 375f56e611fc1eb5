"""Outputs: pictures and packs for people, made from a work folder.

- :mod:`.storyboard` — one picture (or page) per segment, to review a video before editing it;
- :mod:`.shots` — the shot pack: what each clip needs, to make the clips with any generator
  (they come back with ``mvtimeline import``);
- :mod:`.alignplot` — the alignment on one time axis (voice, lines, words, the plan's cuts), and the
  text helpers the storyboard shares.

Import from the modules (they load PIL and media readers, which this package does not).

Public: none here (see the modules).
"""
