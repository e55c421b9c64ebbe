"""Headless core: model, noise, sampling, training, checkpoints, data, imaging, evaluation.

Nothing under ``tui_denoiser.core`` imports textual or rich-pixels (a test enforces it), and this
package's ``__init__`` imports nothing heavy, so the app can paint before torch has loaded.
"""
