"""The engine every rule pack is decided by (`engine.py`) and each law's named
functions (`prop64.py`), which a pack's rules call by name (clearance.law.registry)."""
