"""The app's screens: training, sampling, help and the quit confirmation."""
