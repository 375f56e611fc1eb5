"""Pictures and packs for people: the storyboard (:mod:`.storyboard`), the shot pack for clips made
elsewhere (:mod:`.shots`), and the alignment plot (:mod:`.alignplot`)."""
