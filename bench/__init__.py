"""Benchmarks that print the figures the issues ask for, each beside this machine's floor measured in the same run."""
