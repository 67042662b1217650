"""The directory: units, users, their addresses and passwords; import and sync."""
