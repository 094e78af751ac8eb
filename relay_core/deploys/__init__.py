"""Deploys of workflow versions: the rules file, gates, the deploy store and its listing,
and the version lifecycle (promote diffs, rollbacks)."""
