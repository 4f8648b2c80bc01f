"""Authentication and authorisation (users and roles arrive with the grid-incidents work)."""
