"""Deploy jobs: triggers that claim deploys, the deploy itself, and its evaluation gate."""
