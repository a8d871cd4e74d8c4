"""The application layer: one module of use cases per noun; pages, API and CLI go through it."""
