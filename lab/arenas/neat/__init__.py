"""The NEAT arena: NeuroEvolution of Augmenting Topologies with adaptive species control."""
