"""The loyalty domain: customers, the points ledger and every rule around it.

Nothing in here imports Flask, pywa or pyodbc; the edges (``bot``, ``admin``,
``erp``) call in, and they alone commit.
"""
