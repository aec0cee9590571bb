"""Export and import of a whole server: the cheesecellar format and devpi-server dumps."""
