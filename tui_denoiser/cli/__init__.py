"""The command line, ``denoiser-tui`` (entry point :func:`tui_denoiser.cli.main.main`).

- :mod:`.args`: the parser, argument types, the sampling and output arguments, the default checkpoint;
- :mod:`.train`: ``train``, the torchrun launcher of ``--nproc``, the stop signals;
- :mod:`.commands`: ``sample``, ``info``, ``eval``, ``export``, and the app (``watch``, ``serve``);
- :mod:`.playground`: ``edit``, ``inpaint``, ``morph``;
- :mod:`.progress`: rich output (the training progress bar, ``info``'s tables);
- :mod:`.main`: the parser of every command and the dispatch.

Each imports the modules it needs itself; nothing imports back up, so there is no cycle.
"""
