"""The benchmark suite (`make bench`): measured, not asserted; see README's performance section."""
