"""What every side of dreamcommons agrees on, importing none of them.

- ``protocol``: every client<->server wire message, their encodings, view extrapolation helpers;
- ``device_protocol``: the MQTT topics and payloads between devices and the server;
- ``errors``: the error tree, the stable error codes and the WebSocket close codes;
- ``venues``: the venue presets (``seeds/*.toml``) both the server and the bots read;
- ``tokens``: the shapes of join codes and invitations, and the role an invitation names;
- ``broker_access``: broker URLs and the devices' credentials file;
- ``backoff``: how long to wait before trying a server or a broker again.

The server (``dreamcommons.server``), the client (``dreamcommons.client``) and the devices
(``dreamcommons.firmware_sim``) import from here; nothing here imports them.
"""
