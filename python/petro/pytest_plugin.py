"""pytest plugin for petro (fixtures are added by the emulator)."""
