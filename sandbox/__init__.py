"""A local stand-in for the Extend, Eachlabs and xpander platform APIs (see sandbox/README.md)."""

from sandbox.config import SandboxConfig
from sandbox.server import Sandbox, start_sandbox

__all__ = ["Sandbox", "SandboxConfig", "start_sandbox"]
