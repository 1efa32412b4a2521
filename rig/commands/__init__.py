"""The CLI's commands, one module each; ``rig.cli`` registers them."""
