"""Checks that run before the server signs anything on a user's behalf."""
