"""Ray Serve: ``replica`` runs inside Serve replicas (Serve imports it by path); ``control`` drives Serve from the
driver (start, one ``ServeApp`` per trial, shutdown)."""
