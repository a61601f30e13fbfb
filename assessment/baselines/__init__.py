"""Baseline methods: pure functions over interval data, no ORM."""
