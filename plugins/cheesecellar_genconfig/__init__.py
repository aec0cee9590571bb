"""``cellar gen-config``: nginx, systemd and docker-compose files for this server's options."""
