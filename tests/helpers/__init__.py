"""What the tests share, importable as ``helpers`` (pyproject's ``[tool.pytest.ini_options] pythonpath``
puts ``tests/`` on the path; no test edits ``sys.path``):

- :mod:`.idx`: tiny MNIST-format IDX files, so torchvision's real reader runs without the network;
- :mod:`.core`: a checkpoint payload built in memory, a training run that keeps every event;
- :mod:`.tui`: async Pilot scenarios without an asyncio plugin, waiting, typing into a form;
- :mod:`.processes`: real ``python -m tui_denoiser`` subprocesses and their run folders;
- :mod:`.badfiles`: bad checkpoint files for the bad-input tests.
"""
