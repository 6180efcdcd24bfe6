"""The ``hehu`` command line."""
