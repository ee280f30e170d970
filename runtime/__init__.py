"""What every edge needs at run time: settings read from the environment, and what the factory wired.

Below ``bot``, ``erp``, ``admin`` and ``api``; above ``domain``. It never imports
an edge package or the composition root (``loyalty``), so the arrows point one way.
"""
