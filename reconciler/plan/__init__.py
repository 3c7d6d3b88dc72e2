"""Plans: what apply would send, built from the desired state and the ledger."""
