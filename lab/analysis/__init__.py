"""Analysis of results: charts and (later) stress tests and phylogeny. No tkinter here."""
