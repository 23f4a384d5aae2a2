"""featurekit benchmarks: `python -m benchmarks` or `python benchmarks/run.py`."""
