"""Write services for settlement: the ledger, payments, anchoring."""
