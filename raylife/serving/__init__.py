"""Code that runs inside Ray Serve replicas (imported by Serve through an import path)."""
