"""Profiles: tags, RFM, lifecycle, tiers and customer lifetime value."""
