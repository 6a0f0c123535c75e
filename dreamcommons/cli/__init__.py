"""The ``dreamcommons`` command: it assembles the server, the client and the devices.

This is the only package that imports more than one side; ``main`` is the entry point.
"""
