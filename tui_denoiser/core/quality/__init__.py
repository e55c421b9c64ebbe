"""Sample quality: how well a checkpoint draws the digit asked for, measured in several feature spaces.

- :mod:`.stats`: Frechet distance, spread, which real digits to compare against, quantising (imports
  nothing else from the project);
- :mod:`.classifier` (the tuning judge) and :mod:`.judges` (the held-out ones), sharing the file,
  training loop and ``python -m`` entry of :mod:`.nets`;
- :mod:`.artefacts`: specks and ink, measured without a network;
- :mod:`.scores`: every judge, specks and ink on one set of samples;
- :mod:`.denoising`: denoising PSNR;
- :mod:`.evaluate`: ``denoiser-tui eval``, all of the above on a checkpoint.

Importing the package imports nothing (each module imports torch itself).
"""
