"""M2N2 runs batched: a run advanced with nine others (other seeds and settings) ends exactly as it
does alone, fitness log included, and a block of randomness drawn for all runs at once (in threads)
holds the numbers each run's generator gives pass block by pass block."""
from __future__ import annotations

import torch

from lab.arenas.m2n2.engine import GA_BASELINE, UNIFORMS, M2N2Engine, M2N2Settings, draw_block, member_rng
from lab.arenas.m2n2.task import M2N2Task, load_task_data

TASK = M2N2Task(passes=300, eval_interval=100, target_acc=0.2)
# ten runs that differ in every setting the engine batches: archive size (below the widest one's,
# so a child left out rewrites a slot its run never uses), alpha, partner, zero-attraction rule,
# crossover, split point, SLERP and the mutation and starting spreads
TEN = [M2N2Settings(), GA_BASELINE, M2N2Settings(archive_size=6, partner="uniform", slerp=False,
                                                 crossover_rate=0.5),
       M2N2Settings(archive_size=4, zero_attraction="fitness"), M2N2Settings(alpha=2.5, split_point=False),
       M2N2Settings(archive_size=3, mutation_sigma=0.05), M2N2Settings(crossover_rate=0.0),
       M2N2Settings(archive_size=25, init_sigma=0.1), M2N2Settings(partner="fitness", alpha=0.5),
       M2N2Settings(archive_size=2)]
SEEDS = [11, 11, 12, 13, 14, 15, 16, 17, 18, 19]


def test_a_run_batched_with_nine_others_equals_the_run_alone():
    data = load_task_data(TASK)
    batched = M2N2Engine(TASK, TEN, SEEDS, data=data, fitness_log=True)
    assert batched.step(TASK.passes) == TASK.passes
    for r, (settings, seed) in enumerate(zip(TEN, SEEDS)):
        alone = M2N2Engine(TASK, [settings], [seed], data=data, fitness_log=True)
        alone.step(TASK.passes)
        k = settings.archive_size
        assert torch.equal(alone.archive[0, :k], batched.archive[r, :k]), settings
        assert torch.equal(alone.scores[0, :k], batched.scores[r, :k])
        assert torch.equal(alone.filled[0, :k], batched.filled[r, :k])
        assert not batched.filled[r, k:].any() and not batched.archive[r, k:].any()
        assert int(alone.replaced[0]) == int(batched.replaced[r])
        assert int(alone.zero_attraction_passes[0]) == int(batched.zero_attraction_passes[r])
        assert alone.curve[0] == batched.curve[r]
        assert alone.passes_to_target[0] == batched.passes_to_target[r]
        assert alone.fitness_log_csv(0) == batched.fitness_log_csv(r)


def test_a_block_drawn_at_once_holds_each_generators_numbers_in_the_published_order():
    P, block, seeds = 1_000, 7, [3, 4, 5, 6, 7]
    uniforms, noise = draw_block([member_rng(s) for s in seeds], block, P, "cpu")
    assert uniforms.shape == (block, len(seeds), UNIFORMS) and uniforms.dtype == torch.float64
    assert noise.shape == (block, len(seeds), P) and noise.dtype == torch.float32
    for r, seed in enumerate(seeds):
        g = member_rng(seed)
        assert torch.equal(uniforms[:, r], torch.rand(block, UNIFORMS, generator=g, dtype=torch.float64))
        assert torch.equal(noise[:, r], torch.randn(block, P, generator=g))
