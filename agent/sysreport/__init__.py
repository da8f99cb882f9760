"""sysreport: a daily health report for a Linux host, by email."""

__version__ = "0.1.0"
