"""The application package: composition of the core with its adapters, and tooling."""
