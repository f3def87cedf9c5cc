"""Plugins for bt-lstm's tests: ``ewma`` (forecaster), ``ma-filter`` (strategy) and two broken forecasters."""
