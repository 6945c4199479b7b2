"""Plain-Python business logic: no Reflex imports. Takes a Session and gateway objects."""
