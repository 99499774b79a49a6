"""The pieces of scripts/soak: one module per idea, the phases in mixed.py, storm.py and faults.py."""
