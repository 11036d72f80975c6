"""The grokking arena: 17-gene hyperparameter genomes of a MicroTransformer learning a o b mod p."""
