"""flash4i: clone an IBM i partition with a storage snapshot and put the clone to work."""

__version__ = "0.1.0"
