"""Deploys of workflow versions: the rules file, gates, the deploy store and its listing, the version lifecycle."""
