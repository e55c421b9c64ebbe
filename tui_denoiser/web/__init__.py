"""The app in a browser: ``denoiser-tui serve`` (textual-serve, with a page that needs no internet)."""
