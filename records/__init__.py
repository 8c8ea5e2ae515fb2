"""Durable records: accounts, consents, consultation requests and their history, audit (SQL)."""
