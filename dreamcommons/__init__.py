"""dreamcommons: a real-time server for collective dream sessions.

One import namespace over the repository's folders: ``dreamcommons.server`` (the host),
``dreamcommons.client`` (the participant), ``dreamcommons.firmware_sim`` (the simulated
devices) and ``dreamcommons.seeds`` (the venue presets, as data).
"""

__version__ = "0.2.0"
