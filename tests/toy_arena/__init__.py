"""A fifth arena defined in the tests: a tiny hill climber, registered by one line in
lab.arenas.ARENA_PACKAGES to prove that a new arena is one package (see tests/test_new_arena.py)."""
