"""The parts of the steppar benchmark driver (bench/bench.py)."""
