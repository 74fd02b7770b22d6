"""Placeholder for the offline demo; the lead replaces this module."""


def main() -> int:
    print("demo not built yet")
    return 1
