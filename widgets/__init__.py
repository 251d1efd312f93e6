"""Qt widgets that only draw what they are given: numbers, arrays, text, levels."""
