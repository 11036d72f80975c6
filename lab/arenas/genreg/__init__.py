"""The GENREG arena: trust-based, gradient-free evolution of MLP weights, the whole population
evaluated as one batched matrix product per layer."""
