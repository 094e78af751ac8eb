"""Redis itself: connections (plain, Sentinel, TLS), the arq seam, what an acknowledgement survives, the memory guard."""
