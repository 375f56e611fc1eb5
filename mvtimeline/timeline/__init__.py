"""Timeline stage: plan + clips → one OpenTimelineIO timeline, and writers for it.

The OTIO timeline is the single source of truth; every writer reads only the timeline. Its shape:

- Rate: every ``RationalTime`` is a whole number of frames at ``rate = float(fps)``;
  ``timeline.global_start_time`` is frame 0. The exact rate is ``metadata["mvtimeline"]["fps"]``
  (``"30000/1001"``), which writers use instead of the float.
- ``timeline.metadata["mvtimeline"]``: ``schema`` (1), ``fps`` ("N/D"), ``width``, ``height``,
  ``n_frames`` (the song's length in frames), ``duration_s``, ``audio_path`` (absolute), ``style``,
  ``subtitles``: a list of ``{"start_s", "end_s", "text", "words": [{"text", "start_s", "end_s"}]}``
  (one per lyric line, in order).
- ``timeline.tracks[0]``: video track ``"V1"``: ``Clip, Transition, Clip, Transition, ...``, one clip
  per plan segment, back to back from frame 0 to ``n_frames``. A clip's ``source_range`` starts at its
  head-handle frame count and lasts the segment's frames; its ``media_reference`` is an
  ``ExternalReference`` (absolute path in ``target_url``, ``available_range`` = the whole file).
  ``clip.metadata["mvtimeline"]``: ``segment``, ``take``, ``section``, ``section_kind`` (intro, verse,
  pre-chorus, chorus, bridge, outro, instrumental...), ``label`` (``"03 Chorus – under the neon"``),
  ``lines``, ``image_prompt``, ``motion_prompt``, ``seed``, ``backend``, ``key``, and ``takes``: every
  generated take of the segment, ``[{"take": N, "path": absolute path, "n_frames": N, "key": ...}]``
  (the chosen one included), for the editor's bin. A ``Transition`` (``SMPTE_Dissolve``) between two
  clips has ``in_offset`` = frames before the cut and ``out_offset`` = frames after the cut (from the
  outgoing clip's tail handle). Built timelines start each dissolve at the cut (``in_offset`` 0) and
  their clips have no head handle, so every clip's file begins with its segment.
- ``timeline.tracks[1]``: audio track ``"A1"``: one clip ``"song"``, source range ``[0, n_frames)``.
- ``timeline.tracks.markers``: guides. Each marker is 0 frames long at its frame, ``name`` and
  ``comment`` are its text, ``metadata["mvtimeline"]["kind"]`` is ``"section"``, ``"line"`` or ``"beat"``
  (downbeats, only when asked for); a section marker also has ``section_kind``, and when a lyric line
  starts on the same frame its ``line``. ``metadata["kdenlive"]["type"]`` is the guide category
  (:func:`mvtimeline.timeline.kdenlive.layout.guide_category`, what Kdenlive's OTIO import reads) and the colour
  the OTIO colour nearest to that category's.

The rooms: :mod:`.build` (plan + clips → the timeline), :mod:`.export` (a format name → writer
table, like OTIO's adapters: ``kdenlive``, ``otio``, ``fcp7``, ``fcpx``, ``edl``, ``srt``, ``ass``),
:mod:`.kdenlive` (profile, layout, XML for documents 1.04 and 1.1, and the MLT parser that reads
them back).

Public: none here (see the modules).
"""
