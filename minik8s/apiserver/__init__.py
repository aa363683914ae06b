"""The API server: REST handlers, validation, admission and Table output over the store."""
