"""Writes of login security. Every function takes a keyword-only `actor` (or records who failed), runs in one
transaction and appends an audit event (`security.*`)."""
