"""The grokking arena: 17-gene hyperparameter genomes of a MicroTransformer learning a o b mod p.

What each gene does in the trainer is written down once, in docs/grokking.md ("What each gene
does in the trainer"); genes.py holds the table, model.py and optim.py implement it.
"""
