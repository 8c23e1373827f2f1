"""Monitoring: `flash4i status` and the Nagios / PRTG check. Kept import-light (the CLI parser
reads the defaults below before any command runs)."""

DEFAULT_TIMEOUT = 8.0             # seconds per device command (and per connection)
