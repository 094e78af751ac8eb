"""Fair, priority-aware scheduling of chunks onto the platform's shared rate limits."""
