"""HTTP routes, one small module per resource; handlers call service functions."""
