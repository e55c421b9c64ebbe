"""The shipped models and the evaluation's judges, installed with the package (read through
``importlib.resources`` by :mod:`tui_denoiser.core.paths`)."""
