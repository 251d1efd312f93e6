"""The application: wiring of the Qt-free core to the widgets, the threads, the CLI."""
