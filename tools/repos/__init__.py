"""Code repository evidence: local git repositories (git CLI, read-only) and GitHub (REST, read-only)."""
