"""The audit's checks: one small unit per concern, each reading an image at two depths.

- `from_history`: `docker image inspect` + `docker history` (every image, two small API calls). Bytes are a
  layer's measured size or a documented estimate capped by it.
- `from_profile`: the image's files (an `ImageProfile` from buildopt.inspect, the deep pass). Bytes are measured.

base.py holds the finding model and the `Check` class, context.py what the checks read (each build step read
once), registry.py the one ordered table. audit/findings.py runs the table.
"""
