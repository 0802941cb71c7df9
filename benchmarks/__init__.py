"""fnad's benchmarks: each `benchmarks/<name>.py` has a `main()` that prints its numbers;
`python -m benchmarks` (`make bench`) runs them all in one process, one after another.
"""
