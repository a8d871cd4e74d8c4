"""The demo: vocabulary data, a generator of realistic traffic, and seeding a store."""
