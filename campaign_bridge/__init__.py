"""campaign-bridge: rule-based, one-way campaign membership sync between CRM and marketing-automation systems."""

__version__ = "0.1.0"
