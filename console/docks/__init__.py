"""The console's docks: each reads a ConsoleContext at the refresh rate and feeds widgets."""
