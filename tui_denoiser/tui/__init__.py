"""The Textual front end. Nothing here imports torch at import time, so the first screen paints at once."""
