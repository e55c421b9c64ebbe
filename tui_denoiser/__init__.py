"""denoiser-tui: train and explore a class-conditional CNN denoiser on MNIST in the terminal."""

__version__ = "0.1.0"
