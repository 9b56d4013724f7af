"""The performance benchmark (``safeguarding bench``): seed, measure, report."""
