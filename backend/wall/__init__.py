"""The video wall's own data: the header's weather (县气象局's datasets) and who is on duty."""
