"""What the tests share: songs (``songs``), ffprobe (``probe``), the command in or out of process
(``cli``), a free port (``net``), stand-ins for servers (``comfy_standin``), Kdenlive open helpers
(``kdenlive_open``, ``kdenlive_chroot``), timelines and tiny pipelines (``timelines``, ``tiny_pipelines``),
clips to import (``clips``)."""
