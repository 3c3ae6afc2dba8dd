"""Read-only evidence tools: collectors that only fetch, checks that only judge, and the evidence locker."""
