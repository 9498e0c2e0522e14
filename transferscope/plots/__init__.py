"""Figures: one module per figure family, each reading tidy tables; ``draw(table, out, style)``."""
