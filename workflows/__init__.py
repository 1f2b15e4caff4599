"""workflows — agrigis' job room: one module per bureau job and the ``agrigis`` CLI.

A workflow reads like a recipe: load (``layers``), compute (``gis``), draw (``maps``),
write (``gis.outputs``). Each job has a plain function a notebook can call (``run_progress``,
``run_check``, ``progress_map_file`` …) and a click command in ``cli.py`` built on it; the
shared options (registry, language, output) are in ``options``, the targets files in
``targets/``. It may import every other room; nothing imports it.
"""
