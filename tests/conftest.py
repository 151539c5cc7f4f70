"""Suite-wide fixtures live in tests/support/, one module per concern; this only registers them."""

pytest_plugins = [
    "tests.support.temporal",
    "tests.support.databases",
]
