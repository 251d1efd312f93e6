"""The console's dockable panels; each pulls from the ConsoleContext in ``refresh``."""
