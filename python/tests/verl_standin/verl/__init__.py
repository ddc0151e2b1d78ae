"""Stand-in for verl (v0.7.0, f9c855f7cf04d603c9546bc01776c74806a879c1) in flexrec's tests."""
