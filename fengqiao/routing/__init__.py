"""Smart routing: category classification of citizens' messages (ADR 0017); address resolution and duplicate
detection come later (issue 6)."""
