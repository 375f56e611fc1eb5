"""What the tests share: songs, probes, stand-ins for servers, Kdenlive open helpers, tiny pipelines."""
