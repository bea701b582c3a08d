"""Evaluation of contractqa on the gold questions."""
