"""Maintenance tools of the kit: checks, navigation, the notebook runner, the benchmark."""
