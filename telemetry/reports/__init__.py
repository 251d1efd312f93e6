"""Reports built from archives: crew dose, shift handover."""
