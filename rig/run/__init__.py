"""The run layer: the only code that starts processes (through `rig.run.process`)."""
