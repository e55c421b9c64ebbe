"""Run folders, read and written without torch: what a training run leaves behind and who reads it.

- :mod:`.events`: the events a run reports (each a line of ``metrics.jsonl``);
- :mod:`.folder`: the run folder, its metrics file and its problems, in one line each;
- :mod:`.watch`: following a run folder's ``metrics.jsonl`` as it grows;
- :mod:`.compare`: several runs' curves side by side;
- :mod:`.gpu_stats`: one reading of the GPU for the training screen.

Nothing here imports torch at module level (an import-linter contract checks it), so the app draws
its first frame with these modules loaded.
"""
