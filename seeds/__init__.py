"""The venue presets, one TOML file per venue; read by ``dreamcommons.contracts.venues``."""
