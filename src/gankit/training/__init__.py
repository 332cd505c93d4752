"""The training loop and what runs beside it: callbacks, the collapse monitor, fault handling."""
