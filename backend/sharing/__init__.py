"""Sharing between departments: requests, approval clocks, grants, subscriptions."""
