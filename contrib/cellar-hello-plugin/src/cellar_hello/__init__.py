"""cellar-hello: an example third-party plugin for cheesecellar."""
