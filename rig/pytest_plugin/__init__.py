"""The rig's pytest plugin (entry point ``pytest11``): scenario YAML files as test items, and
fixtures for Python tests against a booted guest's results. Hooks live in ``hooks``, fixtures in
``fixtures``, the session cache in ``session``; everything runs through ``rig.api``."""
