"""Wearables that stream Lab Streaming Layer on this machine, as one dreamcommons device.

``dreamcommons lsl-bridge`` (``cli``) confines LSL to loopback (``loopback``), finds the
wearable's streams (``streams``, the only module that imports pylsl), computes readings from
their windows (``signals`` and ``readings``: pure, numpy and scipy) and publishes them through
the simulated devices' MQTT session (``wearable``). See docs/wearables.md.
"""
