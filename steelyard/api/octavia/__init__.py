"""Octavia's amphora API (/v2/octavia/amphorae), answered from Steelyard's appliances."""
