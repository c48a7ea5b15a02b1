"""User interface only: the dock and the sketch layer it creates."""
