"""Rendering results for people: Rich tables and progress."""
