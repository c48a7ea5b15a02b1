"""DiffusionSat's 3-D (temporal) ControlNet engine: new frames of a place from known frames of it.

- ``contract``: the temporal engine ``diffusionsat-3d`` (cheap to import; no torch).
- ``options``: its options model, shared with the multi-date super-resolution engine.
- ``models``: which models a job runs (the DiffusionSat base and its 3-D ControlNet) and loading the latter.
- ``loading``: resolved models made into a ready ``TemporalGenerator`` (layout, cost, loading, records).
- ``generator``: one step of a sequence, T known frames + a date -> a new frame.
"""
