"""Commands that run experiments and write them into run folders (train, stdp)."""
