"""Billing: the tier catalog and prices, rating, invoices, proration, revenue analytics."""
