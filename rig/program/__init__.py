"""The guest test program: scenarios rendered to C (pure) and the compile target it is built for."""
