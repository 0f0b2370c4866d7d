"""Bridge: per-subscriber tier filtering and fan-out, live usage counting."""
