"""Composite widgets that own a piece of a screen's state and talk to it by messages.

``widgets/`` holds leaf widgets that only draw what they are given (an image, a chart, a log);
``components/`` holds the parts a screen is built from, each owning its state (the sampling request,
the trajectory on show, the run buttons, the playground's settings and canvas) so that screens
compose them and run the workers.
"""
