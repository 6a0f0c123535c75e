"""The device side of the server: registry and pairing, biometric estimates, MQTT ingest."""
