"""Redis itself: connections (plain, Sentinel, TLS), the arq seam, what an acknowledgement
survives, and the memory guard."""
