"""The M2N2 arena: Model Merging of Natural Niches (competition for data points, attraction between
complementary models, split-point SLERP crossover), batched over runs, and the specialists variant."""
